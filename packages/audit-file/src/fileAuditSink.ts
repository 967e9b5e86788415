// AuditSink on an append-only, hash-chained JSON Lines file (mode 0600), one writer per file (a lock
// file). Concurrent appends share one synchronous-data write (group commit); each call is acknowledged
// only after its batch is on disk. Signed checkpoints anchor the chain's head in a second file.
import { constants } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { type FileHandle, link, mkdir, open, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import {
  type AuditError,
  type AuditRecord,
  type AuditSink,
  appendToChain,
  auditError,
  CHAIN_START,
  type ChainHead,
  lineHash,
  parseChainedLine,
} from '@hipaa-fhir-mcp/core';
import type { CheckpointSigner } from './checkpointSigner.js';
import { type Checkpoint, checkpointMessage } from './checkpoints.js';
import { segmentName, streamSegments } from './segments.js';

export interface FileAuditSinkConfig {
  /** The JSON Lines file; created 0600 (and its directory 0700) when missing. */
  readonly path: string;
  /** Signs checkpoints, written to `<path>.checkpoints` at an interval and on close. */
  readonly signer?: CheckpointSigner;
  /** Default 60 s. A checkpoint is written only when the chain grew. */
  readonly checkpointIntervalMs?: number;
  /** Rotate to a new file past this size, and/or when the UTC day changes. The chain continues. */
  readonly rotate?: { readonly maxBytes?: number; readonly daily?: boolean };
  readonly now?: () => Date;
  /** For tests: how the file is opened. */
  readonly openFile?: (path: string, flags: number, mode: number) => Promise<FileHandle>;
}

export interface FileAuditSink extends AuditSink {
  /** Flushes what is pending, writes a last checkpoint, then closes; later appends fail as Closed. */
  readonly close: () => Promise<void>;
  /** The chain's head as durably written. */
  readonly head: () => ChainHead;
  /** Writes a signed checkpoint of the durable head now (if it moved since the last one). */
  readonly checkpoint: () => Promise<void>;
}

/** The audit file cannot be used; the message names the file and the fix, never a record. */
export class AuditFileError extends Error {
  override readonly name = 'AuditFileError';
}

interface Pending {
  readonly record: AuditRecord;
  readonly settle: (result: E.Either<AuditError, void>) => void;
}

// O_DSYNC makes each write durable when it returns (data and the size needed to read it back): one
// thread-pool round trip per batch instead of a write and then an fdatasync. Where the platform has
// no O_DSYNC (Windows), each batch is followed by fdatasync instead.
const DSYNC = constants.O_DSYNC ?? 0;
const OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | DSYNC;
const TAIL_BYTES = 1024 * 1024;

/** Lock files this process holds, so that a lock naming our own pid is known to be live or stale. */
const heldLocks = new Set<string>();

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

interface LockOwner {
  readonly pid: number;
  readonly host: string | undefined;
}

const readLockOwner = async (lockPath: string): Promise<LockOwner | undefined> => {
  const [pid, host] = (await readFile(lockPath, 'utf8').catch(() => '')).trim().split(/\s+/);
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 ? { pid: n, host } : undefined;
};

/**
 * Takes `<path>.lock`, which holds `<pid> <host> <token>`. The lock appears with its content in one
 * step (a private file linked into place), so nobody reads a half-written lock. A lock whose writer
 * no longer runs on this host is taken over through an exclusive takeover marker, so that two
 * starters cannot both take it; a lock from another host is never presumed stale. Two writers on
 * one file would fork the chain and undo each other's rollbacks.
 */
const acquireLock = async (path: string): Promise<string> => {
  const lockPath = `${path}.lock`;
  const mine = `${lockPath}.${randomUUID()}`;
  await writeFile(mine, `${process.pid} ${hostname()} ${randomUUID()}\n`, { mode: 0o600, flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(mine, lockPath);
        heldLocks.add(lockPath);
        return lockPath;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new AuditFileError(`The audit log lock ${lockPath} cannot be created (${(error as NodeJS.ErrnoException).code ?? 'error'}).`);
        }
      }
      const owner = await readLockOwner(lockPath);
      const here = owner?.host === undefined || owner.host === hostname();
      const live = owner === undefined || !here || (owner.pid === process.pid ? heldLocks.has(lockPath) : isAlive(owner.pid));
      if (live) {
        const who = owner === undefined ? 'another process' : `another process (pid ${owner.pid}${here ? '' : ` on ${owner.host}`})`;
        throw new AuditFileError(`The audit log ${path} is being written by ${who}; give each server its own AUDIT_LOG_FILE.`);
      }
      const marker = `${lockPath}.takeover`;
      try {
        await writeFile(marker, `${process.pid}\n`, { flag: 'wx' });
      } catch {
        throw new AuditFileError(`Another process is taking over the stale lock of the audit log ${path}; try again.`);
      }
      try {
        const still = await readLockOwner(lockPath);
        if (still?.pid === owner.pid && still.host === owner.host) await unlink(lockPath).catch(() => undefined); // stale: its writer is gone
      } finally {
        await unlink(marker).catch(() => undefined);
      }
    }
    throw new AuditFileError(`The audit log lock ${lockPath} could not be taken.`);
  } finally {
    await unlink(mine).catch(() => undefined);
  }
};

/**
 * Finds where the chain stands at the end of the file. A torn last line (a crash mid-write; its call
 * was never answered) is cut away; any other damage stops the sink from starting.
 */
const recoverTail = async (path: string, handle: FileHandle | undefined, size: number): Promise<{ head: ChainHead; goodSize: number }> => {
  if (size === 0) return { head: CHAIN_START, goodSize: 0 };
  const start = Math.max(0, size - TAIL_BYTES);
  const tail = Buffer.alloc(size - start);
  const reader = await open(path, 'r');
  await reader.read(tail, 0, tail.length, start).finally(() => reader.close());
  const lastNewline = tail.lastIndexOf(0x0a);
  const goodSize = lastNewline === -1 ? start : start + lastNewline + 1;
  if (goodSize < size) {
    if (handle === undefined) throw new AuditFileError(`The audit log segment ${path} ends with a partial line; check it with: hipaa-fhir-mcp audit verify`);
    await handle.truncate(goodSize);
    await handle.datasync();
  }
  if (goodSize === 0) return { head: CHAIN_START, goodSize };
  const previousNewline = lastNewline === -1 ? -1 : tail.lastIndexOf(0x0a, lastNewline - 1);
  if (lastNewline === -1 || (previousNewline === -1 && start > 0)) {
    throw new AuditFileError(`The audit log ${path} ends with a line longer than ${TAIL_BYTES} bytes; check it with: hipaa-fhir-mcp audit verify ${path}`);
  }
  const line = tail.subarray(previousNewline + 1, lastNewline).toString('utf8');
  const parsed = parseChainedLine(line);
  if (E.isLeft(parsed)) {
    throw new AuditFileError(`The audit log ${path} does not end with a hash-chained record; check it with: hipaa-fhir-mcp audit verify ${path}, then move it aside.`);
  }
  return { head: { seq: parsed.right.seq, hash: lineHash(line) }, goodSize };
};

/**
 * The checkpoint file at open: a torn last line (a crash mid-checkpoint) is cut away; a last
 * checkpoint ahead of the log's head (or at it with another hash) means the log was truncated or
 * replaced while the server was down, and the sink refuses to start rather than grow a second history.
 */
const checkCheckpointTail = async (checkpointPath: string, head: ChainHead, logPath: string): Promise<void> => {
  const text = await readFile(checkpointPath, 'utf8').catch(() => undefined);
  if (text === undefined || text === '') return;
  let complete = text;
  if (!text.endsWith('\n')) {
    complete = text.slice(0, text.lastIndexOf('\n') + 1);
    const file = await open(checkpointPath, 'r+');
    await file.truncate(Buffer.byteLength(complete)).finally(() => file.close());
  }
  const last = complete.trimEnd().split('\n').at(-1);
  if (last === undefined || last === '') return;
  let anchor: { seq?: unknown; head_hash?: unknown };
  try {
    anchor = JSON.parse(last) as { seq?: unknown; head_hash?: unknown };
  } catch {
    return; // a malformed checkpoint is for `audit verify` to report
  }
  if (typeof anchor.seq !== 'number') return;
  if (anchor.seq > head.seq || (anchor.seq === head.seq && anchor.head_hash !== head.hash)) {
    throw new AuditFileError(
      `The audit log ${logPath} is behind its last signed checkpoint (seq ${anchor.seq}; the log ends at seq ${head.seq}): it was truncated or replaced. Check it with: hipaa-fhir-mcp audit verify ${logPath}`,
    );
  }
};

/** The seq of a file's first record (read from its head), or undefined for an empty file. */
const firstSeqOf = async (path: string): Promise<number | undefined> => {
  const reader = await open(path, 'r');
  const head = Buffer.alloc(64 * 1024);
  const { bytesRead } = await reader.read(head, 0, head.length, 0).finally(() => reader.close());
  const end = head.subarray(0, bytesRead).indexOf(0x0a);
  if (end === -1) return undefined;
  const parsed = parseChainedLine(head.subarray(0, end).toString('utf8'));
  return E.isRight(parsed) ? parsed.right.seq : undefined;
};

/** Opens (or creates) the audit file and continues its chain. */
export const makeFileAuditSink = async (config: FileAuditSinkConfig): Promise<FileAuditSink> => {
  const openFile = config.openFile ?? ((path, flags, mode) => open(path, flags, mode));
  const now = config.now ?? (() => new Date());
  await mkdir(dirname(config.path), { recursive: true, mode: 0o700 });
  let handle: FileHandle;
  try {
    handle = await openFile(config.path, OPEN_FLAGS, 0o600);
  } catch (error) {
    throw new AuditFileError(`The audit log ${config.path} cannot be opened for appending (${(error as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  const stats = await handle.stat();
  if (!stats.isFile() || (stats.mode & 0o077) !== 0) {
    await handle.close();
    throw new AuditFileError(
      stats.isFile()
        ? `The audit log ${config.path} is accessible to group or others; run: chmod 600 ${config.path}`
        : `The audit log ${config.path} is not a regular file.`,
    );
  }
  let lockPath: string;
  let recovered: { head: ChainHead; goodSize: number };
  try {
    lockPath = await acquireLock(config.path);
    // A crash between rotation's link and unlink leaves the active name on the newest segment's
    // inode: drop the name, and start a fresh active file.
    const newestSegment = (await streamSegments(config.path)).at(-1);
    if (newestSegment !== undefined && (await stat(newestSegment)).ino === stats.ino) {
      await handle.close();
      await unlink(config.path);
      handle = await openFile(config.path, OPEN_FLAGS, 0o600);
      recovered = { head: CHAIN_START, goodSize: 0 };
    } else {
      recovered = await recoverTail(config.path, handle, stats.size);
    }
    if (recovered.goodSize === 0) {
      // A fresh active file after a rotation: the chain continues from the newest segment.
      const newest = (await streamSegments(config.path)).at(-1);
      if (newest !== undefined) recovered = { head: (await recoverTail(newest, undefined, (await stat(newest)).size)).head, goodSize: 0 };
    }
  } catch (error) {
    await handle.close();
    if (heldLocks.delete(`${config.path}.lock`)) await unlink(`${config.path}.lock`).catch(() => undefined);
    throw error;
  }
  try {
    await checkCheckpointTail(`${config.path}.checkpoints`, recovered.head, config.path);
  } catch (error) {
    await handle.close();
    heldLocks.delete(lockPath);
    await unlink(lockPath).catch(() => undefined);
    throw error;
  }
  // Make the file's directory entry durable too: fdatasync of the file alone does not.
  const directory = await open(dirname(config.path), 'r');
  await directory.sync().finally(() => directory.close());

  let head = recovered.head;
  let durableSize = recovered.goodSize;
  let fileFirstSeq = durableSize === 0 ? head.seq + 1 : ((await firstSeqOf(config.path)) ?? head.seq + 1);
  const utcDay = (d: Date) => d.toISOString().slice(0, 10);
  let fileDay = utcDay(now());
  let pending: Pending[] = [];
  let flushing: Promise<void> | undefined;
  let state: 'open' | 'broken' | 'closing' | 'closed' = 'open';

  // Writes batches until none is pending. A failed write is cut back to the last durable size so that
  // the file never holds a partial line, and the chain does not advance; if even the cut fails, the
  // sink stays broken (fail closed).
  const flush = async (): Promise<void> => {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      if (state === 'broken') {
        // A failed write could not be cut back: nothing more may land after the partial line.
        for (const p of batch) p.settle(E.left(auditError('WriteFailed')));
        continue;
      }
      let next = head;
      let text = '';
      for (const p of batch) {
        const appended = appendToChain(next, p.record);
        text += `${appended.line}\n`;
        next = appended.head;
      }
      let result: E.Either<AuditError, void>;
      try {
        if (rotationDue(Buffer.byteLength(text))) await rotate();
        await handle.appendFile(text);
        if (DSYNC === 0) await handle.datasync();
        durableSize += Buffer.byteLength(text);
        head = next;
        result = E.right(undefined);
      } catch {
        result = E.left(auditError('WriteFailed', true));
        try {
          await handle.truncate(durableSize);
          await handle.datasync();
        } catch {
          state = 'broken';
        }
      }
      for (const p of batch) p.settle(result);
    }
    flushing = undefined;
  };

  const rotationDue = (bytes: number): boolean =>
    durableSize > 0 &&
    ((config.rotate?.maxBytes !== undefined && durableSize + bytes > config.rotate.maxBytes) ||
      (config.rotate?.daily === true && utcDay(now()) !== fileDay));

  // Closes the active file as a segment (after a checkpoint of its head) and opens a fresh one. Runs
  // inside flush, so no write is in progress; a failure fails the batch and breaks the sink.
  const rotate = async (): Promise<void> => {
    await checkpoint();
    await handle.close();
    // link fails if the name exists, where rename would silently replace a segment.
    await link(config.path, segmentName(config.path, fileFirstSeq));
    await unlink(config.path);
    handle = await openFile(config.path, OPEN_FLAGS, 0o600);
    fileFirstSeq = head.seq + 1;
    const directory = await open(dirname(config.path), 'r');
    await directory.sync().finally(() => directory.close());
    durableSize = 0;
    fileDay = utcDay(now());
  };

  // Checkpoints: the durable head, signed, appended to their own file. Serialised, and skipped when
  // the head has not moved.
  const checkpointPath = `${config.path}.checkpoints`;
  let checkpointedSeq = -1;
  let checkpointing: Promise<void> = Promise.resolve();
  const writeCheckpoint = async (): Promise<void> => {
    const signer = config.signer;
    if (signer === undefined || head.seq === checkpointedSeq || head.seq === 0) return;
    const body = { seq: head.seq, head_hash: head.hash, timestamp: now().toISOString(), log: basename(config.path) };
    const checkpoint: Checkpoint = {
      ...body,
      public_key: signer.publicKey,
      signature: Buffer.from(signer.sign(checkpointMessage(body))).toString('base64'),
    };
    const file = await open(checkpointPath, OPEN_FLAGS, 0o600);
    await file.appendFile(`${JSON.stringify(checkpoint)}\n`).finally(() => file.close());
    checkpointedSeq = body.seq;
  };
  const checkpoint = (): Promise<void> => (checkpointing = checkpointing.catch(() => undefined).then(writeCheckpoint));
  const timer =
    config.signer === undefined ? undefined : setInterval(() => void checkpoint().catch(() => undefined), config.checkpointIntervalMs ?? 60_000);
  timer?.unref();

  return {
    head: () => head,
    checkpoint,
    append: (record: AuditRecord) => () =>
      new Promise((settle) => {
        if (state !== 'open') {
          settle(E.left(auditError(state === 'broken' ? 'WriteFailed' : 'Closed')));
          return;
        }
        pending.push({ record, settle });
        flushing ??= flush();
      }),
    close: async () => {
      if (state === 'closing' || state === 'closed') return;
      state = 'closing'; // from here on, appends are refused; what is pending is still written
      while (flushing !== undefined) await flushing;
      if (timer !== undefined) clearInterval(timer);
      try {
        await checkpoint();
      } finally {
        state = 'closed';
        await handle.close();
        heldLocks.delete(lockPath);
        await unlink(lockPath).catch(() => undefined);
      }
    },
  };
};
