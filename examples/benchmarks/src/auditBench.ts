// `pnpm bench:audit`: the durable audit write path. Group commit (the file sink) at 1, 16 and 64
// concurrent callers, next to one durable write per record and to the same writes without any sync;
// and the time `audit verify` takes over a 100,000-record log.
import { constants } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeFileAuditSink } from '@hipaa-fhir-mcp/audit-file';
import { appendToChain, CHAIN_START, verifyChain } from '@hipaa-fhir-mcp/core';
import { sampleAuditRecord } from '@hipaa-fhir-mcp/core/testing';
import { summarise } from './stats.js';

const RECORDS = Number(process.env.BENCH_AUDIT_RECORDS ?? 4000);
const out = (line = '') => process.stdout.write(`${line}\n`);
// On this machine's disk, not tmpfs: the point is the cost of durability.
const dir = await mkdtemp(join(process.env.BENCH_AUDIT_DIR ?? '/var/tmp', 'hfm-audit-bench-'));

/** Runs `records` appends from `callers` concurrent callers; each caller waits for its append. */
const drive = async (callers: number, append: (n: number) => Promise<unknown>) => {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < RECORDS) {
        const n = next++;
        const t = performance.now();
        await append(n);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return summarise(latencies, performance.now() - start);
};

/** One file written record by record, each write waited for, with or without O_DSYNC. */
const perRecord = async (name: string, sync: boolean) => {
  const handle = await open(join(dir, name), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (sync ? constants.O_DSYNC : 0), 0o600);
  let head = CHAIN_START;
  let queue = Promise.resolve();
  return {
    append: (n: number) => {
      queue = queue.then(async () => {
        const next = appendToChain(head, sampleAuditRecord(n));
        head = next.head;
        await handle.appendFile(`${next.line}\n`);
      });
      return queue;
    },
    close: () => handle.close(),
  };
};

out(`audit write path — ${RECORDS} records per row, log on ${dir} (${process.version})`);
out();
out('| writer | callers | records/s | p50 per call | p99 per call |');
out('|---|---|---|---|---|');
const baseline = await perRecord('one-sync-per-record.jsonl', true);
const oneSync = await drive(64, baseline.append);
await baseline.close();
out(`| one durable write per record | 64 | ${oneSync.perSecond.toFixed(0)} | ${oneSync.p50.toFixed(2)} ms | ${oneSync.p99.toFixed(2)} ms |`);
const grouped: Record<number, number> = {};
for (const callers of [1, 16, 64]) {
  const sink = await makeFileAuditSink({ path: join(dir, `group-${callers}.jsonl`) });
  const s = await drive(callers, (n) => sink.append(sampleAuditRecord(n))());
  await sink.close();
  grouped[callers] = s.perSecond;
  out(`| group commit (the file sink) | ${callers} | ${s.perSecond.toFixed(0)} | ${s.p50.toFixed(2)} ms | ${s.p99.toFixed(2)} ms |`);
}
const unsynced = await perRecord('no-sync.jsonl', false);
const noSync = await drive(64, unsynced.append);
await unsynced.close();
out(`| no sync at all (not durable) | 64 | ${noSync.perSecond.toFixed(0)} | ${noSync.p50.toFixed(2)} ms | ${noSync.p99.toFixed(2)} ms |`);
out();
out(`group commit at 64 callers: ${((grouped[64] ?? 0) / oneSync.perSecond).toFixed(1)}× one durable write per record (target ≥ 10×)`);

// Verifying a 100,000-record log, as `audit verify` does (read, then walk the chain).
const big = join(dir, 'hundred-thousand.jsonl');
const sink = await makeFileAuditSink({ path: big });
await Promise.all(Array.from({ length: 100_000 }, (_, n) => sink.append(sampleAuditRecord(n))()));
await sink.close();
const t = performance.now();
const lines = (await readFile(big, 'utf8')).trimEnd().split('\n');
const verdict = verifyChain(lines);
out(`audit verify over ${lines.length} records: ${(performance.now() - t).toFixed(0)} ms, ${verdict.fault === undefined ? 'clean' : 'FAULT'}`);
await rm(dir, { recursive: true });
