import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeFileAuditSink } from '@hipaa-fhir-mcp/audit-file';
import { appendToChain, CHAIN_START, type HmacKey, hmacPatientId, type PatientIdHmac } from '@hipaa-fhir-mcp/core';
import { sampleAuditRecord } from '@hipaa-fhir-mcp/core/testing';
import { runAuditCli } from './auditCli.js';
import { checkpointSignerFor, keyIdOf } from './keys.js';

const keyHex = randomBytes(32).toString('hex');
const key: HmacKey = { id: keyIdOf(Buffer.from(keyHex, 'hex')), bytes: Uint8Array.from(Buffer.from(keyHex, 'hex')) };
const PATIENT = 'audit-cli-patient-7';

const run = async (argv: string[], stdin = '', env: NodeJS.ProcessEnv = { AUDIT_HMAC_KEY: keyHex }) => {
  let stdout = '';
  let stderr = '';
  const code = await runAuditCli(argv, {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: { write: (s: string) => ((stdout += s), true) } as never,
    stderr: { write: (s: string) => ((stderr += s), true) } as never,
    env,
  });
  return { code, stdout, stderr };
};

/** A 20-record log written by the real sink, with its signed checkpoints. */
let dir: string;
let log: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-cli-'));
  log = join(dir, 'audit.jsonl');
  const sink = await makeFileAuditSink({ path: log, signer: checkpointSignerFor(key) });
  for (let n = 1; n <= 20; n++) {
    const mine = n % 4 === 0;
    await sink.append(
      sampleAuditRecord(n, {
        key_id: key.id as never,
        patient_id_hmac: hmacPatientId(key, mine ? PATIENT : `someone-${n}`) as PatientIdHmac,
        tool: mine ? 'get_medication_list' : 'get_patient',
        caller_identity: 'dr.who@clinic.example' as never,
      }),
    )();
    if (n === 10) await sink.checkpoint();
  }
  await sink.close();
});

/** A copy of the log (same name, its own directory, the original checkpoints) with its lines edited. */
const tampered = async (name: string, edit: (lines: string[]) => string[]) => {
  const copyDir = await mkdtemp(join(dir, `${name}-`));
  const path = join(copyDir, 'audit.jsonl');
  const lines = (await readFile(log, 'utf8')).trimEnd().split('\n');
  await writeFile(path, `${edit(lines).join('\n')}\n`);
  await copyFile(`${log}.checkpoints`, `${path}.checkpoints`);
  return path;
};

describe('hipaa-fhir-mcp audit verify', () => {
  it('passes an untouched log, with the signer pinned by the audit key', async () => {
    const result = await run(['verify', log]);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toMatch(/^OK {3}.*audit\.jsonl: 20 records, chain intact, 2 signed checkpoints \(last at seq 20\)\n$/);
  });

  it('detects each kind of tampering and names the line', async () => {
    const forge = (lines: string[]) => {
      // Rebuilt from scratch with one record changed: every link holds; only the signed checkpoints do not.
      let head = CHAIN_START;
      return lines.map((line, i) => {
        const { seq: _s, prev_hash: _p, ...record } = JSON.parse(line);
        const next = appendToChain(head, i === 3 ? { ...record, status: 'error', error_code: 'patient_not_found', data_source: null } : record);
        head = next.head;
        return next.line;
      });
    };
    const cases: [string, (lines: string[]) => string[], RegExp][] = [
      ['one-byte', (l) => l.map((line, i) => (i === 4 ? line.replace('"success"', '"succesS"') : line)), /line 5: malformed/],
      ['one-field', (l) => l.map((line, i) => (i === 4 ? line.replace('dr.who@clinic.example', 'dr.how@clinic.example') : line)), /line 6: modified — line 5 was changed/],
      ['deleted', (l) => l.filter((_, i) => i !== 6), /line 7: missing — seq 7 missing before seq 8/],
      ['swapped', (l) => l.map((line, i) => (i === 8 ? l[9] : i === 9 ? l[8] : line) as string), /line 9: reordered/],
      ['inserted', (l) => [...l.slice(0, 12), l[5] as string, ...l.slice(12)], /line 13: inserted/],
      ['truncated', (l) => l.slice(0, 15), /line 16: truncated — a signed checkpoint covers seq 20; the log ends at seq 15/],
      ['forged', forge, /line 10: modified — differs from the signed checkpoint at seq 10/],
    ];
    for (const [name, edit, expected] of cases) {
      const result = await run(['verify', await tampered(name, edit)]);
      expect([name, result.code]).toStrictEqual([name, 1]);
      expect(result.stdout).toMatch(expected);
    }
  });

  it('refuses checkpoints signed by another key, or copied from another log', async () => {
    const otherKey = { ...key, bytes: new Uint8Array(32).fill(9) };
    expect((await run(['verify', log, '--public-key', checkpointSignerFor(otherKey).publicKey], '', {})).stdout).toMatch(/checkpoints line 1: checkpoint — other-signer/);
    const moved = join(dir, 'moved.jsonl');
    await copyFile(log, moved);
    await copyFile(`${log}.checkpoints`, `${moved}.checkpoints`);
    expect((await run(['verify', moved])).stdout).toMatch(/checkpoint — names another log file/);
  });

  it('refuses to verify with no pinned signer unless told, and answers --json', async () => {
    expect(await run(['verify', log], '', {})).toMatchObject({ code: 2, stderr: expect.stringContaining('No checkpoint signer is pinned') });
    expect((await run(['verify', log, '--allow-unpinned'], '', {})).stdout).toContain('signer NOT pinned');
    const json = JSON.parse((await run(['verify', log, '--json'])).stdout);
    expect(json).toMatchObject({ ok: true, records: 20, checkpoints: 2, signer_pinned: true, fault: null });
  });
});

describe('hipaa-fhir-mcp audit verify against cut-back logs and rotated keys', () => {
  it('fails on records without any signed checkpoint, unless told to accept that', async () => {
    const path = await tampered('no-checkpoints', (l) => l);
    const { rm } = await import('node:fs/promises');
    await rm(`${path}.checkpoints`);
    expect((await run(['verify', path])).stdout).toMatch(/unanchored — no signed checkpoint/);
    expect((await run(['verify', path, '--allow-unanchored'])).code).toBe(0);
  });

  it('fails when two signed checkpoints disagree about one seq (a log cut back and grown again)', async () => {
    const streamDir = await mkdtemp(join(tmpdir(), 'audit-cli-regrown-'));
    const path = join(streamDir, 'audit.jsonl');
    const signer = checkpointSignerFor(key);
    const first = await makeFileAuditSink({ path, signer });
    for (let n = 1; n <= 6; n++) await first.append(sampleAuditRecord(n, { key_id: key.id as never }))();
    await first.close();
    // An attacker with the key cuts the log back and regrows it, signing as the server would.
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    await writeFile(path, `${lines.slice(0, 3).join('\n')}\n`);
    const cp = (await readFile(`${path}.checkpoints`, 'utf8')).trimEnd().split('\n');
    await writeFile(`${path}.checkpoints`, ''); // hide the old checkpoint from the server at start
    const second = await makeFileAuditSink({ path, signer });
    for (let n = 7; n <= 9; n++) await second.append(sampleAuditRecord(n, { key_id: key.id as never, status: 'error', error_code: 'internal_error' }))();
    await second.close();
    await writeFile(`${path}.checkpoints`, `${cp.join('\n')}\n${await readFile(`${path}.checkpoints`, 'utf8')}`); // the old one kept elsewhere, restored
    expect((await run(['verify', path])).stdout).toMatch(/checkpoint — a second, different head for seq 6/);
  });

  it('verifies checkpoints signed under an older key given with --key-file', async () => {
    const older = join(dir, 'older.key');
    await writeFile(older, keyHex, { mode: 0o600 });
    const newer = randomBytes(32).toString('hex');
    expect((await run(['verify', log], '', { AUDIT_HMAC_KEY: newer })).stdout).toMatch(/other-signer/);
    expect((await run(['verify', log, '--key-file', older], '', { AUDIT_HMAC_KEY: newer })).code).toBe(0);
  });
});

describe('hipaa-fhir-mcp audit verify over a rotated stream', () => {
  it('finds the segments itself, and names the file and line of a fault', async () => {
    const streamDir = await mkdtemp(join(tmpdir(), 'audit-cli-rotated-'));
    const path = join(streamDir, 'audit.jsonl');
    let clock = Date.parse('2026-03-01T10:00:00.000Z');
    const sink = await makeFileAuditSink({ path, signer: checkpointSignerFor(key), rotate: { maxBytes: 2000 }, now: () => new Date((clock += 1)) });
    for (let n = 1; n <= 15; n++) await sink.append(sampleAuditRecord(n, { key_id: key.id as never }))();
    await sink.close();
    const ok = await run(['verify', path]);
    expect(ok.stdout).toMatch(/15 records in \d+ files, chain intact/);
    const { streamSegments } = await import('@hipaa-fhir-mcp/audit-file');
    const second = (await streamSegments(path))[1] as string;
    const lines = (await readFile(second, 'utf8')).trimEnd().split('\n');
    await writeFile(second, `${[lines[0], ...lines.slice(2)].join('\n')}\n`);
    const broken = await run(['verify', path]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(`FAIL ${second} line 2: missing`);
  });
});

describe('hipaa-fhir-mcp audit find', () => {
  it("lists one patient's records from an id read on stdin, and never prints the id", async () => {
    const result = await run(['find', log], `${PATIENT}\n`);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^5 records for this patient/);
    expect(result.stdout.match(/get_medication_list/g)).toHaveLength(5);
    expect(result.stdout + result.stderr).not.toContain(PATIENT);
    const json = JSON.parse((await run(['find', log, '--json'], PATIENT)).stdout);
    expect(json.records.map((r: { seq: number }) => r.seq)).toStrictEqual([4, 8, 12, 16, 20]);
  });

  it('needs the audit key, and names the keys it could not search with', async () => {
    expect((await run(['find', log], PATIENT, {})).code).toBe(2);
    const otherKeyHex = randomBytes(32).toString('hex');
    const other = await run(['find', log, '--json'], PATIENT, { AUDIT_HMAC_KEY: otherKeyHex });
    expect(JSON.parse(other.stdout)).toMatchObject({ records: [], unsearched_key_ids: [key.id] });
  });
});

describe('hipaa-fhir-mcp audit stats', () => {
  it('counts calls per day, tool, caller and status', async () => {
    const json = JSON.parse((await run(['stats', log, '--json'])).stdout);
    expect(json).toMatchObject({ records: 20, tool: { get_patient: 15, get_medication_list: 5 }, caller: { 'dr.who@clinic.example': 20 }, status: { success: 20 } });
    expect((await run(['stats', log])).stdout).toContain('by tool:');
  });

  it('shows usage for anything else', async () => {
    expect((await run(['nonsense', log])).code).toBe(2);
    expect((await run(['verify'])).stderr).toContain('usage:');
  });
});
