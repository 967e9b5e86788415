// The encrypted PhiCache: the port's contract on disk, and fail-closed reads — an entry changed in
// any region, copied to another patient's name or slot, or whose key source fails is a miss plus a
// fixed warning, and the suspect file is removed. Nothing on disk names or holds an identifier.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as O from 'fp-ts/lib/Option.js';
import { describe, expect, it } from 'vitest';
import { type CacheSlot, hmacCacheQuery, hmacPatientId } from '@hipaa-fhir-mcp/core';
import { phiCacheContract, testHmacKey } from '@hipaa-fhir-mcp/core/testing';
import { type DataKeySource, localDataKeySource } from './envelope.js';
import { makeFileCacheStore } from './fileCacheStore.js';
import { makeEncryptedPhiCache, type PhiCacheWarning } from './phiCache.js';

const MASTER_KEY = randomBytes(32);
const PARTITION = 'files:/srv/fhir';
const newDir = async () => join(await mkdtemp(join(tmpdir(), 'phi-cache-')), 'cache');

const setup = async (options: { dataKeys?: DataKeySource; ttlMs?: number } = {}) => {
  let offset = 0;
  const start = Date.now();
  const now = () => start + offset;
  const ttlMs = options.ttlMs ?? 60_000;
  const dir = await newDir();
  const store = await makeFileCacheStore({ dir, ttlMs, maxBytes: 1_000_000, now });
  const warnings: PhiCacheWarning[] = [];
  const dataKeys = options.dataKeys ?? localDataKeySource(MASTER_KEY);
  const cache = makeEncryptedPhiCache({ partition: PARTITION, store, dataKeys, ttlMs, warn: (w) => void warnings.push(w), now });
  return { cache, dir, store, warnings, ttlMs, advanceMs: (ms: number) => void (offset += ms), close: async () => store.close() };
};

phiCacheContract('encrypted files', setup);

const ALICE = 'synthetic-patient-a';
const slotOf = (patientId: string, code = '8867-4'): CacheSlot => {
  const patient = hmacPatientId(testHmacKey, patientId);
  return { patient, query: hmacCacheQuery(testHmacKey, PARTITION, patient, ['search_observations', `http://loinc.org|${code}`, 100]) };
};
const fileOf = (slot: CacheSlot) => `${slot.patient}.${slot.query}.phc`;
const RESULT = JSON.stringify({ observations: [{ resourceType: 'Observation', id: 'hr-1', subject: { reference: `Patient/${ALICE}` }, code: { text: '8867-4 Heart rate' } }], total: 1, truncated: false });

describe('the encrypted PHI cache', () => {
  it('keeps on disk only HMAC-named files whose bytes hold no id, code or resource text', async () => {
    const { cache, dir, close } = await setup();
    await cache.write(slotOf(ALICE), RESULT)();
    const files = await readdir(dir);
    expect(files).toStrictEqual([fileOf(slotOf(ALICE))]);
    const bytes = await readFile(join(dir, files[0] as string));
    for (const text of [ALICE, '8867-4', 'Observation', 'Heart rate', slotOf(ALICE).patient]) {
      expect(bytes.includes(Buffer.from(text)), text).toBe(false);
      expect(files[0]).not.toContain(text === slotOf(ALICE).patient ? 'never' : text);
    }
    expect(await cache.read(slotOf(ALICE))()).toStrictEqual(O.some(RESULT));
    await close();
  });

  it('rejects an entry with a byte changed in any region, warns, and removes the file', async () => {
    const { cache, dir, warnings, close } = await setup();
    await cache.write(slotOf(ALICE), RESULT)();
    const path = join(dir, fileOf(slotOf(ALICE)));
    const sealed = await readFile(path);
    const wrappedEnd = 14 + sealed.readUInt16BE(12);
    // magic, expiry, wrapped-key length, wrapped key, IV, tag, ciphertext (first and last byte).
    const regions = { magic: 0, expiry: 9, length: 13, wrapped: 20, iv: wrappedEnd, tag: wrappedEnd + 12, ciphertext: wrappedEnd + 28, last: sealed.length - 1 };
    for (const [region, offset] of Object.entries(regions)) {
      const tampered = Buffer.from(sealed);
      tampered[offset] = (tampered[offset] as number) ^ 0x80;
      await cache.write(slotOf(ALICE), RESULT)(); // registers the name with the store again
      await writeFile(path, tampered);
      expect(await cache.read(slotOf(ALICE))(), region).toStrictEqual(O.none);
      expect(await readdir(dir), region).toStrictEqual([]);
    }
    expect(warnings).toStrictEqual(Array(Object.keys(regions).length).fill('entry_rejected'));
    await close();
  });

  it("rejects an entry copied under another patient's name or another slot", async () => {
    const { cache, dir, store, warnings, close } = await setup();
    await cache.write(slotOf(ALICE), RESULT)();
    const bob = slotOf('synthetic-patient-b');
    const otherCode = slotOf(ALICE, '8302-2');
    for (const target of [bob, otherCode]) {
      await store.put(fileOf(target).slice(0, -'.phc'.length), await readFile(join(dir, fileOf(slotOf(ALICE)))));
      expect(await cache.read(target)()).toStrictEqual(O.none);
    }
    expect(warnings).toStrictEqual(['entry_rejected', 'entry_rejected']);
    expect(await cache.read(slotOf(ALICE))()).toStrictEqual(O.some(RESULT)); // the original still opens
    await close();
  });

  it('rejects entries written under another master key (a rotated key retires the cache)', async () => {
    const first = await setup();
    await first.cache.write(slotOf(ALICE), RESULT)();
    const rotated = makeEncryptedPhiCache({
      partition: PARTITION,
      store: first.store,
      dataKeys: localDataKeySource(randomBytes(32)),
      ttlMs: first.ttlMs,
      warn: (w) => void first.warnings.push(w),
    });
    expect(await rotated.read(slotOf(ALICE))()).toStrictEqual(O.none);
    expect(first.warnings).toStrictEqual(['entry_rejected']);
    await first.close();
  });

  it('is a miss and a warning when the key source is unavailable, keeping the entry; writes are skipped', async () => {
    const healthy = localDataKeySource(MASTER_KEY);
    let failing = false;
    const flaky: DataKeySource = {
      withNewDataKey: (patient, use) => (failing ? Promise.reject(new Error('KMS down')) : healthy.withNewDataKey(patient, use)),
      withDataKey: (wrapped, patient, use) => (failing ? Promise.reject(new Error('KMS down')) : healthy.withDataKey(wrapped, patient, use)),
    };
    const { cache, dir, warnings, close } = await setup({ dataKeys: flaky });
    await cache.write(slotOf(ALICE), RESULT)();
    failing = true;
    expect(await cache.read(slotOf(ALICE))()).toStrictEqual(O.none);
    await cache.write(slotOf(ALICE, '8302-2'), RESULT)();
    expect(await readdir(dir)).toStrictEqual([fileOf(slotOf(ALICE))]); // kept: the entry may be fine
    expect(warnings).toStrictEqual(['key_unavailable', 'entry_not_written']);
    failing = false;
    expect(await cache.read(slotOf(ALICE))()).toStrictEqual(O.some(RESULT)); // served once the source is back
    await close();
  });

  it('misses quietly on an expired entry, and survives a warning sink that throws', async () => {
    const { cache, advanceMs, ttlMs, warnings, close, store } = await setup();
    await cache.write(slotOf(ALICE), RESULT)();
    advanceMs(ttlMs);
    expect(await cache.read(slotOf(ALICE))()).toStrictEqual(O.none);
    expect(warnings).toStrictEqual([]);
    const throwing = makeEncryptedPhiCache({
      partition: PARTITION,
      store,
      dataKeys: { withNewDataKey: () => Promise.reject(new Error('x')), withDataKey: () => Promise.reject(new Error('x')) },
      ttlMs,
      warn: () => {
        throw new Error('warning sink broken');
      },
    });
    await expect(throwing.write(slotOf(ALICE), RESULT)()).resolves.toBeUndefined();
    await close();
  });
});
