// Sealed cache entries on disk: one 0600 file per entry in a 0700 directory, named only by HMACs,
// written atomically, never served past its TTL, and the directory held under a size bound (the
// oldest entries go first). Bytes are stored as given: callers store only sealed entries.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface FileCacheStoreConfig {
  readonly dir: string;
  readonly ttlMs: number;
  /** Bytes the entries may take together; past it, the oldest are removed. */
  readonly maxBytes: number;
  /** How often expired entries are removed in the background. Default: the TTL. */
  readonly sweepEveryMs?: number;
  readonly now?: () => number;
}

export interface FileCacheStore {
  /** The entry's bytes, or undefined if there is none or it has expired (then it is removed). */
  readonly get: (name: string) => Promise<Buffer | undefined>;
  readonly put: (name: string, bytes: Uint8Array) => Promise<void>;
  /** Removes every expired entry and leftover temporary file. */
  readonly sweep: () => Promise<void>;
  /** Removes every entry, this store's or not. */
  readonly purge: () => Promise<void>;
  readonly close: () => void;
}

/** Entry names are HMACs (hex), so a file name can never carry an identifier. */
const ENTRY_NAME = /^[0-9a-f]{64}(?:\.[0-9a-f]{64})?$/;
const SUFFIX = '.phc';

export const makeFileCacheStore = async (config: FileCacheStoreConfig): Promise<FileCacheStore> => {
  const now = config.now ?? Date.now;
  await mkdir(config.dir, { recursive: true, mode: 0o700 });
  await chmod(config.dir, 0o700);
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
  const expired = (writtenAt: number): boolean => now() - writtenAt >= config.ttlMs;

  const sweep = async (): Promise<void> => {
    for (const file of await readdir(config.dir)) {
      const name = file.slice(0, -SUFFIX.length);
      if (!file.endsWith(SUFFIX) || !ENTRY_NAME.test(name)) {
        if (file.startsWith('.tmp-')) await rm(join(config.dir, file), { force: true });
        continue;
      }
      const info = await stat(join(config.dir, file)).catch(() => undefined);
      if (info === undefined) continue;
      if (expired(info.mtimeMs)) await remove(name);
      else if (!entries.has(name)) {
        entries.set(name, { size: info.size, writtenAt: info.mtimeMs });
        total += info.size;
      }
    }
  };
  await sweep();
  const timer = setInterval(() => void sweep().catch(() => undefined), config.sweepEveryMs ?? config.ttlMs);
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
      for (const [oldest] of entries) {
        if (total <= config.maxBytes) break;
        await remove(oldest);
      }
    },
    sweep,
    purge: async () => {
      entries.clear();
      total = 0;
      for (const file of await readdir(config.dir)) {
        if (file.endsWith(SUFFIX) || file.startsWith('.tmp-')) await rm(join(config.dir, file), { force: true });
      }
    },
    close: () => clearInterval(timer),
  };
};
