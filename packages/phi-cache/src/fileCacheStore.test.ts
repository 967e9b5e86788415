// The file store: 0600 files in a 0700 directory named by HMACs only, nothing served past its TTL,
// expired and leftover files removed at start, the size bound kept by removing the oldest.
import { createHmac, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFileCacheStore, purgeCacheDirectory } from './fileCacheStore.js';

const hmacKey = randomBytes(32);
const hmac = (text: string) => createHmac('sha256', hmacKey).update(text).digest('hex');
const nameOf = (n: number) => `${hmac('synthetic-patient-a')}.${hmac(`search_observations|code-${n}`)}`;
const newDir = async () => join(await mkdtemp(join(tmpdir(), 'phi-cache-')), 'cache');

describe('file cache store', () => {
  it('stores each entry in a 0600 file, named by HMACs only, inside a 0700 directory', async () => {
    const dir = await newDir();
    const store = await makeFileCacheStore({ dir, ttlMs: 60_000, maxBytes: 1_000_000 });
    await store.put(nameOf(1), Buffer.from('sealed-bytes'));
    expect(await store.get(nameOf(1))).toStrictEqual(Buffer.from('sealed-bytes'));
    expect(await store.get(nameOf(2))).toBeUndefined();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const files = await readdir(dir);
    expect(files).toStrictEqual([`${nameOf(1)}.phc`]);
    expect((await stat(join(dir, files[0] as string))).mode & 0o777).toBe(0o600);
    await expect(store.put('synthetic-patient-a', Buffer.from('x'))).rejects.toThrow(TypeError);
    store.close();
  });

  it('never serves an entry past its TTL, and removes it', async () => {
    let clock = Date.now();
    const dir = await newDir();
    const store = await makeFileCacheStore({ dir, ttlMs: 1_000, maxBytes: 1_000_000, now: () => clock });
    await store.put(nameOf(1), Buffer.from('sealed'));
    clock += 999;
    expect(await store.get(nameOf(1))).toStrictEqual(Buffer.from('sealed'));
    clock += 1;
    expect(await store.get(nameOf(1))).toBeUndefined();
    clock -= 1_000;
    expect(await store.get(nameOf(1))).toBeUndefined(); // gone, not merely hidden
    expect(await readdir(dir)).toStrictEqual([]);
    store.close();
  });

  it('at start removes expired entries and leftover temporary files, and keeps the rest', async () => {
    const dir = await newDir();
    const first = await makeFileCacheStore({ dir, ttlMs: 60_000, maxBytes: 1_000_000 });
    await first.put(nameOf(1), Buffer.from('old'));
    await first.put(nameOf(2), Buffer.from('fresh'));
    first.close();
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, `${nameOf(1)}.phc`), hourAgo, hourAgo);
    await writeFile(join(dir, '.tmp-0123456789abcdef'), 'torn');
    await utimes(join(dir, '.tmp-0123456789abcdef'), hourAgo, hourAgo);
    await writeFile(join(dir, '.tmp-fedcba9876543210'), 'being written'); // a write in progress: kept
    const second = await makeFileCacheStore({ dir, ttlMs: 60_000, maxBytes: 1_000_000 });
    expect((await readdir(dir)).sort()).toStrictEqual(['.tmp-fedcba9876543210', `${nameOf(2)}.phc`]);
    expect(await second.get(nameOf(2))).toStrictEqual(Buffer.from('fresh'));
    second.close();
  });

  it('purges every entry and temporary file, however old, counting the entries; refuses a missing or open directory', async () => {
    const dir = await newDir();
    const store = await makeFileCacheStore({ dir, ttlMs: 60_000, maxBytes: 1_000_000 });
    for (let n = 1; n <= 5; n++) await store.put(nameOf(n), Buffer.from('sealed'));
    store.close();
    const longAgo = new Date(Date.now() - 30_000);
    for (let n = 1; n <= 5; n++) await utimes(join(dir, `${nameOf(n)}.phc`), longAgo, longAgo);
    await writeFile(join(dir, '.tmp-0123456789abcdef'), 'torn');
    await writeFile(join(dir, 'notes.txt'), 'not the cache\'s');
    expect(await purgeCacheDirectory(dir)).toBe(5);
    expect(await readdir(dir)).toStrictEqual(['notes.txt']);
    await expect(purgeCacheDirectory(join(dir, 'typo'))).rejects.toThrow(/does not exist/);
    await expect(readdir(join(dir, 'typo'))).rejects.toThrow(); // not created by a purge
    await chmod(dir, 0o755);
    await expect(purgeCacheDirectory(dir)).rejects.toThrow(/chmod 700/);
  });

  it('removes expired entries in the background, on its sweep interval', async () => {
    let clock = Date.now();
    const dir = await newDir();
    const store = await makeFileCacheStore({ dir, ttlMs: 1_000, maxBytes: 1_000_000, sweepEveryMs: 20, now: () => clock });
    await store.put(nameOf(1), Buffer.from('sealed'));
    const aged = new Date(Date.now() - 5_000);
    await utimes(join(dir, `${nameOf(1)}.phc`), aged, aged);
    clock += 5_000;
    const deadline = Date.now() + 5_000;
    while ((await readdir(dir)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(await readdir(dir)).toStrictEqual([]);
    store.close();
  });

  it('keeps within its size bound by removing the oldest entries', async () => {
    const dir = await newDir();
    const store = await makeFileCacheStore({ dir, ttlMs: 60_000, maxBytes: 1_000 });
    for (let n = 1; n <= 5; n++) await store.put(nameOf(n), randomBytes(300));
    expect((await readdir(dir)).sort()).toStrictEqual([3, 4, 5].map((n) => `${nameOf(n)}.phc`).sort());
    expect(await store.get(nameOf(1))).toBeUndefined();
    expect(await store.get(nameOf(5))).toHaveLength(300);
    store.close();
  });

  it('after a restart keeps its bound, oldest first, and takes a time in the future as expired', async () => {
    const dir = await newDir();
    const first = await makeFileCacheStore({ dir, ttlMs: 60_000, maxBytes: 1_000_000 });
    for (let n = 1; n <= 4; n++) await first.put(nameOf(n), randomBytes(400));
    first.close();
    // Written out of name order: 3 oldest, then 1, 4, 2; and 2 claims a time an hour ahead.
    const ago = (s: number) => new Date(Date.now() - s * 1_000);
    for (const [n, at] of [[3, ago(40)], [1, ago(30)], [4, ago(20)], [2, new Date(Date.now() + 3_600_000)]] as const) await utimes(join(dir, `${nameOf(n)}.phc`), at, at);
    const second = await makeFileCacheStore({ dir, ttlMs: 60_000, maxBytes: 500 });
    expect(await readdir(dir)).toStrictEqual([`${nameOf(4)}.phc`]);
    second.close();
  });

  it('refuses a cache directory that is a symbolic link or open to others, and settings that would switch bounds off', async () => {
    const base = await mkdtemp(join(tmpdir(), 'phi-cache-'));
    await mkdir(join(base, 'real'), { mode: 0o700 });
    await symlink(join(base, 'real'), join(base, 'link'));
    await expect(makeFileCacheStore({ dir: join(base, 'link'), ttlMs: 60_000, maxBytes: 1_000 })).rejects.toThrow(/symbolic link/);
    await mkdir(join(base, 'open'), { mode: 0o755 });
    await expect(makeFileCacheStore({ dir: join(base, 'open'), ttlMs: 60_000, maxBytes: 1_000 })).rejects.toThrow(/chmod 700/);
    expect((await stat(join(base, 'open'))).mode & 0o777).toBe(0o755); // not changed behind the owner's back
    for (const bad of [{ ttlMs: Number.NaN, maxBytes: 1_000 }, { ttlMs: 0, maxBytes: 1_000 }, { ttlMs: 60_000, maxBytes: Number.POSITIVE_INFINITY }]) {
      await expect(makeFileCacheStore({ dir: join(base, 'real'), ...bad })).rejects.toThrow(RangeError);
    }
  });
});
