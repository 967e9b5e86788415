import { constants } from 'node:fs';
import { appendFile, chmod, type FileHandle, link, mkdtemp, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { auditError, GENESIS_HASH, verifyChain } from '@hipaa-fhir-mcp/core';
import { auditSinkContract, sampleAuditRecord } from '@hipaa-fhir-mcp/core/testing';
import { ed25519Signer } from './checkpointSigner.js';
import { readCheckpoints } from './checkpoints.js';
import { streamFiles, streamSegments } from './segments.js';
import { AuditFileError, makeFileAuditSink } from './fileAuditSink.js';

const tempPath = async (name = 'audit.jsonl') => join(await mkdtemp(join(tmpdir(), 'audit-file-')), 'nested', name);
const rawLines = async (path: string): Promise<string[]> => (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
/** The records as appended: the chain's own fields (seq, prev_hash) taken off. */
const readLines = async (path: string): Promise<unknown[]> =>
  (await rawLines(path)).map((l) => {
    const { seq: _seq, prev_hash: _prev, ...record } = JSON.parse(l) as Record<string, unknown>;
    return record;
  });

auditSinkContract('audit-file', async () => {
  const path = await tempPath();
  const sink = await makeFileAuditSink({ path });
  return { sink, close: sink.close, readBack: () => readLines(path) };
});

/** Wraps a real FileHandle, counting writes and failing the next `failures` appends after writing half. */
const instrumented = (counters: { writes: number; failures: number; truncateFails?: boolean }) =>
  async (path: string, flags: number, mode: number): Promise<FileHandle> => {
    const handle = await open(path, flags, mode);
    return new Proxy(handle, {
      get(target, prop, receiver) {
        if (prop === 'appendFile') {
          return async (text: string) => {
            counters.writes++;
            if (counters.failures > 0) {
              counters.failures--;
              await target.appendFile(text.slice(0, Math.ceil(text.length / 2)));
              throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
            }
            return target.appendFile(text);
          };
        }
        if (prop === 'truncate' && counters.truncateFails) return async () => { throw new Error('EIO'); };
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };

describe('audit-file', () => {
  it('creates the file 0600 in a 0700 directory, one hash-chained JSON object per line', async () => {
    const path = await tempPath();
    const sink = await makeFileAuditSink({ path });
    await sink.append(sampleAuditRecord(1))();
    await sink.append(sampleAuditRecord(2))();
    await sink.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(path, '..'))).mode & 0o777).toBe(0o700);
    const lines = await rawLines(path);
    expect(lines[0]).toBe(JSON.stringify({ ...sampleAuditRecord(1), seq: 1, prev_hash: GENESIS_HASH }));
    expect(verifyChain(lines)).toStrictEqual({ head: sink.head(), records: 2 });
  });

  it('refuses a file that group or others can read, saying how to fix it', async () => {
    const path = await tempPath();
    const first = await makeFileAuditSink({ path });
    await first.close();
    await chmod(path, 0o644);
    await expect(makeFileAuditSink({ path })).rejects.toThrow(new AuditFileError(`The audit log ${path} is accessible to group or others; run: chmod 600 ${path}`));
  });

  it('allows one writer per file: a second sink is refused, a stale lock is taken over', async () => {
    const path = await tempPath();
    const first = await makeFileAuditSink({ path });
    await expect(makeFileAuditSink({ path })).rejects.toThrow(/is being written by another process \(pid \d+\); give each server its own AUDIT_LOG_FILE/);
    await first.close();
    await writeFile(`${path}.lock`, '999999999\n');
    const second = await makeFileAuditSink({ path });
    expect(await second.append(sampleAuditRecord(1))()).toStrictEqual(E.right(undefined));
    await second.close();
    await expect(stat(`${path}.lock`)).rejects.toThrow();
  });

  it('writes what was pending when close() began, and refuses what comes after', async () => {
    const path = await tempPath();
    const sink = await makeFileAuditSink({ path });
    const before = [sink.append(sampleAuditRecord(1))(), sink.append(sampleAuditRecord(2))()];
    const closing = sink.close();
    const after = sink.append(sampleAuditRecord(3))();
    await closing;
    expect(await Promise.all(before)).toStrictEqual([E.right(undefined), E.right(undefined)]);
    expect(await after).toStrictEqual(E.left(auditError('Closed')));
    expect(await readLines(path)).toStrictEqual([sampleAuditRecord(1), sampleAuditRecord(2)]);
  });

  it('rotates by size into timestamped segments; the chain and its checkpoints run across them', async () => {
    const path = await tempPath();
    const signer = ed25519Signer(new Uint8Array(32).fill(3));
    let clock = Date.parse('2026-03-01T10:00:00.000Z');
    const sink = await makeFileAuditSink({ path, signer, rotate: { maxBytes: 1500 }, now: () => new Date((clock += 1)) });
    for (let n = 1; n <= 20; n++) expect(await sink.append(sampleAuditRecord(n))()).toStrictEqual(E.right(undefined));
    await sink.close();
    const files = await streamFiles(path);
    expect(files.length).toBeGreaterThan(3);
    expect(files.slice(0, -1).every((f) => /\.\d{12}$/.test(f))).toBe(true);
    expect(files[0]).toMatch(/\.000000000001$/);
    const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
    expect(sizes.slice(0, -1).every((size) => size <= 1500)).toBe(true);
    const lines = (await Promise.all(files.map(rawLines))).flat();
    const anchors = new Map(((await readCheckpoints(`${path}.checkpoints`, [signer.publicKey])) ?? []).map((c) => [c.checkpoint?.seq ?? 0, c.checkpoint?.head_hash ?? '']));
    expect(anchors.size).toBe(files.length); // one at each rotation, one on close
    expect(verifyChain(lines, undefined, anchors)).toStrictEqual({ head: sink.head(), records: 20 });
  });

  it('rotates when the UTC day changes, and a reopened fresh file continues the chain', async () => {
    const path = await tempPath();
    let day = '2026-03-01';
    const first = await makeFileAuditSink({ path, rotate: { daily: true }, now: () => new Date(`${day}T23:59:59.000Z`) });
    await first.append(sampleAuditRecord(1))();
    day = '2026-03-02';
    await first.append(sampleAuditRecord(2))();
    await first.close();
    expect((await streamSegments(path)).map((f) => f.slice(-13))).toStrictEqual(['.000000000001']);
    // As if a crash came right after the next rotation: the active file closed as a segment, no new one yet.
    await rename(path, `${path}.000000000002`);
    const again = await makeFileAuditSink({ path });
    await again.append(sampleAuditRecord(3))();
    await again.close();
    const lines = (await Promise.all((await streamFiles(path)).map(rawLines))).flat();
    expect(lines.map((l) => JSON.parse(l).seq)).toStrictEqual([1, 2, 3]);
    expect(verifyChain(lines).fault).toBeUndefined();
  });

  it('loses nothing when many concurrent appends rotate every few records, all within one millisecond', async () => {
    const path = await tempPath();
    const frozen = new Date('2026-03-01T10:00:00.000Z');
    const sink = await makeFileAuditSink({ path, rotate: { maxBytes: 1024 }, now: () => frozen });
    const results = await Promise.all(Array.from({ length: 400 }, (_, n) => sink.append(sampleAuditRecord(n))()));
    await sink.close();
    expect(results.every(E.isRight)).toBe(true);
    const lines = (await Promise.all((await streamFiles(path)).map(rawLines))).flat();
    expect(lines).toHaveLength(400);
    expect(verifyChain(lines).fault).toBeUndefined();
  });

  it('recovers from a crash between rotation link and unlink (one inode, two names)', async () => {
    const path = await tempPath();
    const first = await makeFileAuditSink({ path });
    await first.append(sampleAuditRecord(1))();
    await first.close();
    await link(path, `${path}.000000000001`); // rotation got this far
    const again = await makeFileAuditSink({ path });
    await again.append(sampleAuditRecord(2))();
    await again.close();
    const lines = (await Promise.all((await streamFiles(path)).map(rawLines))).flat();
    expect(lines.map((l) => JSON.parse(l).seq)).toStrictEqual([1, 2]);
    expect(verifyChain(lines).fault).toBeUndefined();
  });

  it('refuses a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-file-dir-'));
    await expect(makeFileAuditSink({ path: dir })).rejects.toBeInstanceOf(AuditFileError);
  });

  it('cuts a torn last line (a crash mid-write) away on open, and continues the chain', async () => {
    const path = await tempPath();
    const first = await makeFileAuditSink({ path });
    await first.append(sampleAuditRecord(1))();
    await first.close();
    await appendFile(path, '{"timestamp":"2026-01-02T03:04:05.678Z","tool":"get_pat');
    const sink = await makeFileAuditSink({ path });
    await sink.append(sampleAuditRecord(2))();
    await sink.close();
    const lines = await rawLines(path);
    expect(lines).toHaveLength(2);
    expect(verifyChain(lines).fault).toBeUndefined();
    expect(await readLines(path)).toStrictEqual([sampleAuditRecord(1), sampleAuditRecord(2)]);
  });

  it('refuses a log that does not end with a hash-chained record, pointing at audit verify', async () => {
    const path = await tempPath();
    await (await makeFileAuditSink({ path })).close();
    await writeFile(path, `${JSON.stringify(sampleAuditRecord(1))}\n`, { mode: 0o600 });
    await expect(makeFileAuditSink({ path })).rejects.toThrow(/does not end with a hash-chained record; check it with: hipaa-fhir-mcp audit verify/);
    await expect(makeFileAuditSink({ path })).rejects.toThrow(AuditFileError); // the lock was released
  });

  it('anchors the head in signed checkpoints: on demand, on an interval, and on close', async () => {
    const path = await tempPath();
    const signer = ed25519Signer(new Uint8Array(32).fill(7));
    const sink = await makeFileAuditSink({ path, signer, checkpointIntervalMs: 20 });
    for (const n of [1, 2, 3]) await sink.append(sampleAuditRecord(n))();
    await sink.checkpoint();
    await sink.checkpoint(); // the head has not moved: nothing written
    await sink.append(sampleAuditRecord(4))();
    await new Promise((r) => setTimeout(r, 80)); // the interval writes the next one
    await sink.append(sampleAuditRecord(5))();
    await sink.close();
    const checkpoints = (await readCheckpoints(`${path}.checkpoints`, [signer.publicKey])) ?? [];
    expect(checkpoints.map((c) => [c.checkpoint?.seq, c.problem])).toStrictEqual([
      [3, undefined],
      [4, undefined],
      [5, undefined],
    ]);
    expect(checkpoints.at(-1)?.checkpoint?.head_hash).toBe(sink.head().hash);
    expect((await stat(`${path}.checkpoints`)).mode & 0o777).toBe(0o600);

    const other = ed25519Signer(new Uint8Array(32).fill(8));
    expect((await readCheckpoints(`${path}.checkpoints`, [other.publicKey]))?.map((c) => c.problem)).toStrictEqual(['other-signer', 'other-signer', 'other-signer']);
    const text = await readFile(`${path}.checkpoints`, 'utf8');
    await writeFile(`${path}.checkpoints`, text.replace('"seq":3', '"seq":2'));
    expect((await readCheckpoints(`${path}.checkpoints`, [signer.publicKey]))?.[0]?.problem).toBe('bad-signature');
  });

  it('opens the log for synchronous-data writes, so that a returned write is durable', async () => {
    const path = await tempPath();
    let flags = 0;
    const sink = await makeFileAuditSink({ path, openFile: (p, f, m) => ((flags = f), open(p, f, m)) });
    await sink.close();
    expect(flags & constants.O_DSYNC).toBe(constants.O_DSYNC);
    expect(flags & constants.O_APPEND).toBe(constants.O_APPEND);
  });

  it('group-commits: 64 concurrent appends share far fewer than 64 writes', async () => {
    const path = await tempPath();
    const counters = { writes: 0, failures: 0 };
    const sink = await makeFileAuditSink({ path, openFile: instrumented(counters) });
    const results = await Promise.all(Array.from({ length: 64 }, (_, n) => sink.append(sampleAuditRecord(n))()));
    await sink.close();
    expect(results.every(E.isRight)).toBe(true);
    expect(await readLines(path)).toHaveLength(64);
    expect(counters.writes).toBeLessThanOrEqual(2);
  });

  it('fails a batch whose write fails, cuts the partial line away, and keeps serving', async () => {
    const path = await tempPath();
    const counters = { writes: 0, failures: 1 };
    const sink = await makeFileAuditSink({ path, openFile: instrumented(counters) });
    expect(await sink.append(sampleAuditRecord(1))()).toStrictEqual(E.left(auditError('WriteFailed', true)));
    expect(await readFile(path, 'utf8')).toBe('');
    expect(await sink.append(sampleAuditRecord(2))()).toStrictEqual(E.right(undefined));
    await sink.close();
    expect(await readLines(path)).toStrictEqual([sampleAuditRecord(2)]);
  });

  it('stays failed (closed to writes) when a torn write cannot be cut away', async () => {
    const path = await tempPath();
    const sink = await makeFileAuditSink({ path, openFile: instrumented({ writes: 0, failures: 1, truncateFails: true }) });
    // The second append is queued while the first write fails: it must not land after the partial line.
    const [first, queued] = await Promise.all([sink.append(sampleAuditRecord(1))(), sink.append(sampleAuditRecord(2))()]);
    expect([E.isLeft(first), E.isLeft(queued)]).toStrictEqual([true, true]);
    expect(await sink.append(sampleAuditRecord(3))()).toStrictEqual(E.left(auditError('WriteFailed')));
    await sink.close();
  });

  it('cuts a torn checkpoint line away on open, and refuses a log behind its last signed checkpoint', async () => {
    const path = await tempPath();
    const signer = ed25519Signer(new Uint8Array(32).fill(5));
    const first = await makeFileAuditSink({ path, signer });
    for (const n of [1, 2, 3]) await first.append(sampleAuditRecord(n))();
    await first.close();
    await appendFile(`${path}.checkpoints`, '{"seq":4,"head_ha'); // a crash while writing a checkpoint
    const second = await makeFileAuditSink({ path, signer });
    await second.append(sampleAuditRecord(4))();
    await second.close();
    expect((await readCheckpoints(`${path}.checkpoints`, [signer.publicKey]))?.map((c) => [c.checkpoint?.seq, c.problem])).toStrictEqual([
      [3, undefined],
      [4, undefined],
    ]);
    // Truncated while the server was down: the next start refuses rather than grow a second history.
    const lines = await rawLines(path);
    await writeFile(path, `${lines.slice(0, 2).join('\n')}\n`, { mode: 0o600 });
    await expect(makeFileAuditSink({ path, signer })).rejects.toThrow(/behind its last signed checkpoint \(seq 4; the log ends at seq 2\)/);
  });
});
