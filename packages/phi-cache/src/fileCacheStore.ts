// Sealed cache entries on disk: one 0600 file per entry in a 0700 directory, named only by HMACs,
// written atomically, never served past its TTL, and the directory held under a size bound (the
// oldest entries go first). Bytes are stored as given: callers store only sealed entries.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface FileCacheStoreConfig {
  readonly dir: string;
  readonly ttlMs: number;
  /** Bytes the entries may take together; past it, the oldest are removed. */
  readonly maxBytes: number;
  /** How often expired entries are removed in the background. Default: the TTL, at most a minute. */
  readonly sweepEveryMs?: number;
  readonly now?: () => number;
}

export interface FileCacheStore {
  /** The entry's bytes, or undefined if there is none or it has expired (then it is removed). */
  readonly get: (name: string) => Promise<Buffer | undefined>;
  readonly put: (name: string, bytes: Uint8Array) => Promise<void>;
  readonly remove: (name: string) => Promise<void>;
  /** Removes every expired entry and leftover temporary file. */
  readonly sweep: () => Promise<void>;
  readonly close: () => void;
}

/** Entry names are HMACs (hex), so a file name can never carry an identifier. */
const ENTRY_NAME = /^[0-9a-f]{64}(?:\.[0-9a-f]{64})?$/;
const SUFFIX = '.phc';
/** A temporary file older than this is left over from a crash, not a write in progress. */
const STALE_TEMPORARY_MS = 60_000;

/** The cache directory must be a real directory of this user's that no one else can enter. */
const checkPrivateDirectory = async (dir: string, create: boolean): Promise<void> => {
  if (create) await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir).catch(() => undefined);
  if (info === undefined) throw new Error('The cache directory does not exist.');
  const uid = process.getuid?.();
  if (!info.isDirectory()) throw new Error('The cache directory is a symbolic link or not a directory; it must be a private directory.');
  if (uid !== undefined && info.uid !== uid) throw new Error('The cache directory belongs to another user; it must be a private directory of this one.');
  if ((info.mode & 0o077) !== 0) throw new Error('The cache directory is open to group or others; it must be private (chmod 700).');
};

export const makeFileCacheStore = async (config: FileCacheStoreConfig): Promise<FileCacheStore> => {
  const positive = (value: number | undefined) => value === undefined || (Number.isFinite(value) && value >= 1);
  if (!positive(config.ttlMs) || !positive(config.maxBytes) || !positive(config.sweepEveryMs) || config.ttlMs > 2 ** 31 - 1) {
    throw new RangeError('The cache TTL, size bound and sweep interval must be finite and at least 1 (the TTL under 2^31 ms).');
  }
  const now = config.now ?? Date.now;
  await checkPrivateDirectory(config.dir, true);
  const pathOf = (name: string): string => {
    if (!ENTRY_NAME.test(name)) throw new TypeError('A cache entry name must be one or two HMACs (64 hex characters each).');
    return join(config.dir, `${name}${SUFFIX}`);
  };
  // What is on disk, oldest first: name → size and time written.
  const entries = new Map<string, { size: number; writtenAt: number }>();
  let total = 0;
  const forget = (name: string): void => {
    total -= entries.get(name)?.size ?? 0;
    entries.delete(name);
  };
  const remove = async (name: string): Promise<void> => {
    forget(name);
    await rm(pathOf(name), { force: true });
  };
  // A time in the future (a clock stepped back, a restored file) counts as expired, not as fresh.
  const expired = (writtenAt: number): boolean => {
    const age = now() - writtenAt;
    return age < 0 || age >= config.ttlMs;
  };
  const keepWithinBound = async (): Promise<void> => {
    for (const [oldest] of entries) {
      if (total <= config.maxBytes) break;
      await remove(oldest);
    }
  };

  const sweep = async (): Promise<void> => {
    const found: { name: string; size: number; writtenAt: number }[] = [];
    for (const file of await readdir(config.dir)) {
      const info = await stat(join(config.dir, file)).catch(() => undefined);
      if (info === undefined) continue;
      const name = file.slice(0, -SUFFIX.length);
      if (!file.endsWith(SUFFIX) || !ENTRY_NAME.test(name)) {
        if (file.startsWith('.tmp-') && Date.now() - info.mtimeMs >= STALE_TEMPORARY_MS) await rm(join(config.dir, file), { force: true });
        continue;
      }
      if (expired(info.mtimeMs)) await remove(name);
      else if (!entries.has(name)) found.push({ name, size: info.size, writtenAt: info.mtimeMs });
    }
    // Entries found on disk join oldest first, then the bound is kept (it may have changed).
    for (const { name, size, writtenAt } of found.sort((a, b) => a.writtenAt - b.writtenAt)) {
      entries.set(name, { size, writtenAt });
      total += size;
    }
    await keepWithinBound();
  };
  await sweep();
  const timer = setInterval(() => void sweep().catch(() => undefined), config.sweepEveryMs ?? Math.min(config.ttlMs, 60_000));
  timer.unref();

  return {
    get: async (name) => {
      const known = entries.get(name);
      if (known === undefined) return undefined;
      if (expired(known.writtenAt)) {
        await remove(name);
        return undefined;
      }
      return readFile(pathOf(name)).catch(() => {
        forget(name);
        return undefined;
      });
    },
    put: async (name, bytes) => {
      const path = pathOf(name);
      const temporary = join(config.dir, `.tmp-${randomBytes(8).toString('hex')}`);
      const file = await open(temporary, 'wx', 0o600);
      try {
        await file.writeFile(bytes);
      } finally {
        await file.close();
      }
      await rename(temporary, path);
      forget(name);
      entries.set(name, { size: bytes.length, writtenAt: now() });
      total += bytes.length;
      await keepWithinBound();
    },
    remove,
    sweep,
    close: () => clearInterval(timer),
  };
};

/**
 * Removes every entry and leftover temporary file from a cache directory, which must exist and be
 * private; resolves to how many entries there were. A server running on the directory at the same
 * time may write new entries afterwards (each encrypted, and gone within its TTL): stop it first.
 */
export const purgeCacheDirectory = async (dir: string): Promise<number> => {
  await checkPrivateDirectory(dir, false);
  let removed = 0;
  for (const file of await readdir(dir)) {
    const entry = file.endsWith(SUFFIX) && ENTRY_NAME.test(file.slice(0, -SUFFIX.length));
    if (!entry && !file.startsWith('.tmp-')) continue;
    await rm(join(dir, file), { force: true });
    if (entry) removed += 1;
  }
  return removed;
};
