// `hipaa-fhir-mcp audit verify | find | stats`: the compliance officer's tools over a hash-chained
// audit log. `find` reads the patient id from stdin or a no-echo prompt, never from argv (shell
// history, process lists), and never prints it.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import * as E from 'fp-ts/lib/Either.js';
import { readCheckpoints, streamFiles } from '@hipaa-fhir-mcp/audit-file';
import { type ChainedAuditRecord, type HmacKey, hmacPatientId, parseChainedLine, verifyChain } from '@hipaa-fhir-mcp/core';
import { decodeConfig, type KeySource } from './config.js';
import { checkpointSignerFor, loadHmacKey } from './keys.js';

export interface CliIo {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly stdout: Pick<Writable, 'write'>;
  readonly stderr: Pick<Writable, 'write'>;
  readonly env: NodeJS.ProcessEnv;
}

const USAGE = `usage:
  hipaa-fhir-mcp audit verify LOG [--public-key HEX]... [--key-file FILE]... [--checkpoints FILE] [--json]
                              [--allow-unpinned] [--allow-unanchored]
  hipaa-fhir-mcp audit find LOG [--key-file FILE]... [--json]     (patient id on stdin, or typed unseen)
  hipaa-fhir-mcp audit stats LOG [--json]
The audit key comes from AUDIT_HMAC_KEY or AUDIT_HMAC_KEY_FILE, as for the server.
`;

const option = (args: readonly string[], name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const options = (args: readonly string[], name: string): string[] => args.flatMap((a, i) => (a === name && args[i + 1] !== undefined ? [args[i + 1] as string] : []));

interface Stream {
  readonly files: readonly string[];
  readonly lines: readonly string[];
  /** The file and 1-based line of a 1-based line number across the stream. */
  readonly locate: (line: number) => { readonly file: string; readonly line: number };
}

/** The whole stream of a log: its rotated segments (oldest first), then the active file. */
const readStream = async (log: string): Promise<Stream | undefined> => {
  const files = await streamFiles(log);
  const lines: string[] = [];
  const starts: number[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined && file === log && files.length === 1) return undefined;
    starts.push(lines.length);
    lines.push(...(text ?? '').split('\n').filter((line) => line !== ''));
  }
  const locate = (line: number) => {
    let index = starts.length - 1;
    while (index > 0 && (starts[index] as number) >= line) index--;
    return { file: files[index] as string, line: line - (starts[index] as number) };
  };
  return { files, lines, locate };
};

/** The audit key named by the environment, if any (for pinning the checkpoint signer and for find). */
const keyFromEnv = async (env: NodeJS.ProcessEnv): Promise<E.Either<string, HmacKey | undefined>> => {
  const keyVariables = ['AUDIT_HMAC_KEY', 'AUDIT_HMAC_KEY_FILE', 'KEY_PROVIDER', 'AUDIT_HMAC_KEY_CIPHERTEXT', 'AUDIT_HMAC_KEY_CIPHERTEXT_FILE'];
  if (keyVariables.every((name) => (env[name] ?? '') === '')) return E.right(undefined);
  // Only the key variables: another variable's problem (a bad LOG_LEVEL, say) is not the CLI's.
  const config = decodeConfig({ ...Object.fromEntries(keyVariables.map((name) => [name, env[name]])), AUDIT_LOG_FILE: 'unused' });
  if (E.isLeft(config)) {
    const keyProblem = config.left.find((p) => p.variable.startsWith('AUDIT_HMAC_KEY') || p.variable === 'KEY_PROVIDER');
    if (keyProblem !== undefined) return E.left(`${keyProblem.variable}: ${keyProblem.problem}`);
    return E.left('the environment does not hold a usable audit key');
  }
  const key = await loadHmacKey(config.right.keySource);
  return E.isLeft(key) ? E.left(`${key.left.variable}: ${key.left.problem}`) : E.right(key.right);
};

/** The keys named by `--key-file` (older, rotated keys); undefined after reporting a bad one. */
const keysFromFiles = async (args: readonly string[], io: CliIo): Promise<HmacKey[] | undefined> => {
  const keys: HmacKey[] = [];
  for (const path of options(args, '--key-file')) {
    const key = await loadHmacKey({ kind: 'file', path } satisfies KeySource);
    if (E.isLeft(key)) {
      io.stderr.write(`--key-file ${path}: ${key.left.problem}\n`);
      return undefined;
    }
    keys.push(key.right);
  }
  return keys;
};

const verify = async (log: string, stream: Stream, args: readonly string[], io: CliIo): Promise<number> => {
  const json = args.includes('--json');
  const { lines } = stream;
  const key = await keyFromEnv(io.env);
  if (E.isLeft(key)) {
    io.stderr.write(`${key.left}\n`);
    return 2;
  }
  // Every key whose checkpoints are trusted: the environment's, --key-file (older keys) and --public-key.
  const olderKeys = await keysFromFiles(args, io);
  if (olderKeys === undefined) return 2;
  const pins = [
    ...options(args, '--public-key'),
    ...[...(key.right === undefined ? [] : [key.right]), ...olderKeys].map((k) => checkpointSignerFor(k).publicKey),
  ];
  if (pins.length === 0 && !args.includes('--allow-unpinned')) {
    io.stderr.write('No checkpoint signer is pinned: set AUDIT_HMAC_KEY[_FILE], or pass --key-file or --public-key (or --allow-unpinned).\n');
    return 2;
  }
  const checkpointsPath = option(args, '--checkpoints') ?? `${log}.checkpoints`;
  const checkpoints = (await readCheckpoints(checkpointsPath, pins.length === 0 ? undefined : pins)) ?? [];
  const badCheckpoint = checkpoints.find((c) => c.problem !== undefined || c.checkpoint?.log !== basename(log));
  const anchors = new Map<number, string>();
  let conflict: { line: number; seq: number } | undefined;
  for (const c of checkpoints) {
    if (c.checkpoint === undefined) continue;
    const known = anchors.get(c.checkpoint.seq);
    if (known !== undefined && known !== c.checkpoint.head_hash) conflict ??= { line: c.line, seq: c.checkpoint.seq };
    anchors.set(c.checkpoint.seq, c.checkpoint.head_hash);
  }
  const verdict = verifyChain(lines, undefined, anchors);
  const unanchored = lines.length > 0 && anchors.size === 0 && !args.includes('--allow-unanchored');
  const fault = badCheckpoint !== undefined
    ? { file: checkpointsPath, line: badCheckpoint.line, problem: 'checkpoint', detail: badCheckpoint.problem ?? 'names another log file' }
    : conflict !== undefined
      ? { file: checkpointsPath, line: conflict.line, problem: 'checkpoint', detail: `a second, different head for seq ${conflict.seq}: the log was cut back and rewritten` }
      : unanchored
        ? { file: checkpointsPath, line: 0, problem: 'unanchored', detail: 'no signed checkpoint: a truncated or rewritten log could not be told apart (--allow-unanchored to accept)' }
        : verdict.fault === undefined ? undefined : { ...verdict.fault, ...stream.locate(verdict.fault.line) };
  const summary = {
    log,
    files: stream.files,
    ok: fault === undefined,
    records: lines.length,
    head: verdict.head,
    checkpoints: checkpoints.length,
    last_checkpoint_seq: Math.max(0, ...anchors.keys()),
    signers: pins,
    signer_pinned: pins.length > 0,
    fault: fault ?? null,
  };
  if (json) io.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (fault === undefined) {
    io.stdout.write(
      `OK   ${log}: ${lines.length} records${stream.files.length > 1 ? ` in ${stream.files.length} files` : ''}, chain intact, ${checkpoints.length} signed checkpoints (last at seq ${summary.last_checkpoint_seq})` +
        `${pins.length === 0 ? '; signer NOT pinned' : ''}\n`,
    );
  } else io.stdout.write(`FAIL ${fault.file} line ${fault.line}: ${fault.problem} — ${fault.detail}\n`);
  return fault === undefined ? 0 : 1;
};

/** Reads one line from stdin without echoing it when stdin is a terminal. */
const readSecretLine = async (io: CliIo): Promise<string> => {
  if (io.stdin.isTTY === true && io.stdin.setRawMode !== undefined) {
    io.stderr.write('Patient id (not shown): ');
    io.stdin.setRawMode(true);
    return new Promise((resolve) => {
      let typed = '';
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n' || char === '\u0004') {
            io.stdin.off('data', onData);
            io.stdin.setRawMode?.(false);
            io.stdin.pause();
            io.stderr.write('\n');
            return resolve(typed);
          }
          if (char === '\u0003') process.exit(130);
          typed = char === '\u007f' ? typed.slice(0, -1) : typed + char;
        }
      };
      io.stdin.on('data', onData);
      io.stdin.resume();
    });
  }
  let text = '';
  for await (const chunk of io.stdin as AsyncIterable<Buffer>) text += chunk.toString('utf8');
  return text.trim();
};

const parsedRecords = (lines: readonly string[]): ChainedAuditRecord[] =>
  lines.flatMap((line) => {
    const parsed = parseChainedLine(line);
    return E.isRight(parsed) ? [parsed.right] : [];
  });

const find = async (log: string, stream: Stream, args: readonly string[], io: CliIo): Promise<number> => {
  const { lines } = stream;
  const current = await keyFromEnv(io.env);
  if (E.isLeft(current) || current.right === undefined) {
    io.stderr.write(`${E.isLeft(current) ? current.left : 'set AUDIT_HMAC_KEY or AUDIT_HMAC_KEY_FILE to the audit key'}\n`);
    return 2;
  }
  const olderKeys = await keysFromFiles(args, io);
  if (olderKeys === undefined) return 2;
  const keys: HmacKey[] = [current.right, ...olderKeys];
  const patientId = await readSecretLine(io);
  if (patientId === '') {
    io.stderr.write('no patient id given\n');
    return 2;
  }
  const hmacs = new Map(keys.map((k) => [k.id, hmacPatientId(k, patientId)]));
  const records = parsedRecords(lines);
  const found = records.filter((r) => r.key_id !== null && hmacs.get(r.key_id) === r.patient_id_hmac);
  const unknownKeys = [...new Set(records.flatMap((r) => (r.key_id !== null && !hmacs.has(r.key_id) ? [r.key_id] : [])))];
  if (args.includes('--json')) {
    io.stdout.write(`${JSON.stringify({ records: found, unsearched_key_ids: unknownKeys })}\n`);
  } else {
    io.stdout.write(`${found.length} records for this patient in ${log}\n`);
    for (const r of found) io.stdout.write(`  ${r.timestamp}  ${r.tool.padEnd(20)} ${r.status.padEnd(7)} ${(r.error_code ?? '').padEnd(22)} ${r.caller_identity ?? '-'}  ${r.request_id}\n`);
    if (unknownKeys.length > 0) io.stdout.write(`records made under other keys were not searched (${unknownKeys.join(', ')}): add them with --key-file\n`);
  }
  return 0;
};

const stats = async (log: string, stream: Stream, args: readonly string[], io: CliIo): Promise<number> => {
  const { lines } = stream;
  const counts: Record<'day' | 'tool' | 'caller' | 'status', Record<string, number>> = { day: {}, tool: {}, caller: {}, status: {} };
  const bump = (table: Record<string, number>, key: string) => void (table[key] = (table[key] ?? 0) + 1);
  const records = parsedRecords(lines);
  for (const r of records) {
    bump(counts.day, r.timestamp.slice(0, 10));
    bump(counts.tool, r.tool);
    bump(counts.caller, r.caller_identity ?? '(unidentified)');
    bump(counts.status, r.error_code === null ? 'success' : `error:${r.error_code}`);
  }
  if (args.includes('--json')) io.stdout.write(`${JSON.stringify({ records: records.length, ...counts })}\n`);
  else {
    io.stdout.write(`${records.length} records in ${log}\n`);
    for (const [name, table] of Object.entries(counts)) {
      io.stdout.write(`by ${name}:\n`);
      for (const [key, n] of Object.entries(table).sort()) io.stdout.write(`  ${String(n).padStart(8)}  ${key}\n`);
    }
  }
  return 0;
};

const COMMANDS = { verify, find, stats } as const;

export const runAuditCli = async (argv: readonly string[], io: CliIo): Promise<number> => {
  const [command, log, ...rest] = argv;
  if (log === undefined || log.startsWith('-') || command === undefined || !Object.hasOwn(COMMANDS, command)) {
    io.stderr.write(USAGE);
    return 2;
  }
  const stream = await readStream(log);
  if (stream === undefined) {
    io.stderr.write(`cannot read ${log}\n`);
    return 2;
  }
  return COMMANDS[command as keyof typeof COMMANDS](log, stream, rest, io);
};
