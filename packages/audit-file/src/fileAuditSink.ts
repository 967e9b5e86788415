// AuditSink on an append-only JSON Lines file (mode 0600), with one writer per file (a lock file).
// Concurrent appends share one synchronous-data write (group commit); each call is acknowledged only
// after its batch is on disk.
import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { type AuditError, type AuditRecord, type AuditSink, auditError } from '@hipaa-fhir-mcp/core';

export interface FileAuditSinkConfig {
  /** The JSON Lines file; created 0600 (and its directory 0700) when missing. */
  readonly path: string;
  /** For tests: how the file is opened. */
  readonly openFile?: (path: string, flags: number, mode: number) => Promise<FileHandle>;
}

export interface FileAuditSink extends AuditSink {
  /** Flushes what is pending, then closes the file; later appends fail as Closed. */
  readonly close: () => Promise<void>;
}

/** The audit file cannot be used; the message names the file and the fix, never a record. */
export class AuditFileError extends Error {
  override readonly name = 'AuditFileError';
}

interface Pending {
  readonly line: string;
  readonly settle: (result: E.Either<AuditError, void>) => void;
}

// O_DSYNC makes each write durable when it returns (data and the size needed to read it back): one
// thread-pool round trip per batch instead of a write and then an fdatasync. Where the platform has
// no O_DSYNC (Windows), each batch is followed by fdatasync instead.
const DSYNC = constants.O_DSYNC ?? 0;
const OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | DSYNC;

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

/**
 * Takes `<path>.lock` (created exclusively, holding our pid). A lock left by a process that no longer
 * runs is taken over. Two writers on one file could interleave lines and undo each other's rollbacks.
 */
const acquireLock = async (path: string): Promise<string> => {
  const lockPath = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const lock = await open(lockPath, 'wx', 0o600);
      await lock.writeFile(`${process.pid}\n`);
      await lock.close();
      heldLocks.add(lockPath);
      return lockPath;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AuditFileError(`The audit log lock ${lockPath} cannot be created (${(error as NodeJS.ErrnoException).code ?? 'error'}).`);
      }
      const pid = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      const live = Number.isInteger(pid) && pid > 0 && (pid === process.pid ? heldLocks.has(lockPath) : isAlive(pid));
      if (live) {
        throw new AuditFileError(
          `The audit log ${path} is being written by another process (pid ${pid}); give each server its own AUDIT_LOG_FILE.`,
        );
      }
      await unlink(lockPath).catch(() => undefined); // stale: its writer is gone
    }
  }
  throw new AuditFileError(`The audit log lock ${lockPath} could not be taken.`);
};

/**
 * Opens (or creates) the audit file. Refuses a file readable or writable by group or others, and
 * anything but a regular file. A torn last line (from a crash) is fenced with a newline first.
 */
export const makeFileAuditSink = async (config: FileAuditSinkConfig): Promise<FileAuditSink> => {
  const openFile = config.openFile ?? ((path, flags, mode) => open(path, flags, mode));
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
  try {
    lockPath = await acquireLock(config.path);
  } catch (error) {
    await handle.close();
    throw error;
  }
  // Make the file's directory entry durable too: fdatasync of the file alone does not.
  const directory = await open(dirname(config.path), 'r');
  await directory.sync().finally(() => directory.close());
  let durableSize = stats.size;
  if (durableSize > 0) {
    const last = Buffer.alloc(1);
    const reader = await open(config.path, 'r');
    await reader.read(last, 0, 1, durableSize - 1).finally(() => reader.close());
    if (last[0] !== 0x0a) {
      await handle.appendFile('\n');
      await handle.datasync();
      durableSize += 1;
    }
  }

  let pending: Pending[] = [];
  let flushing: Promise<void> | undefined;
  let state: 'open' | 'broken' | 'closing' | 'closed' = 'open';

  // Writes batches until none is pending. A failed write is cut back to the last durable size so
  // that the file never holds a partial line; if even that fails, the sink stays broken (fail closed).
  const flush = async (): Promise<void> => {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      const text = batch.map((p) => p.line).join('');
      let result: E.Either<AuditError, void>;
      try {
        await handle.appendFile(text);
        if (DSYNC === 0) await handle.datasync();
        durableSize += Buffer.byteLength(text);
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

  return {
    append: (record: AuditRecord) => () =>
      new Promise((settle) => {
        if (state !== 'open') {
          settle(E.left(auditError(state === 'broken' ? 'WriteFailed' : 'Closed')));
          return;
        }
        pending.push({ line: `${JSON.stringify(record)}\n`, settle });
        flushing ??= flush();
      }),
    close: async () => {
      if (state === 'closing' || state === 'closed') return;
      state = 'closing'; // from here on, appends are refused; what is pending is still written
      while (flushing !== undefined) await flushing;
      state = 'closed';
      await handle.close();
      heldLocks.delete(lockPath);
      await unlink(lockPath).catch(() => undefined);
    },
  };
};
