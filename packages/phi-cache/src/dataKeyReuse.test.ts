// Data-key reuse stays within its bounds (age, uses, keys held), never crosses patients, and still
// fails closed on an entry that is not the patient's.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { alice, at, bob, carol, LATER, NOW, resource } from '../test/entries.js';
import { reusingDataKeys } from './dataKeyReuse.js';
import { type DataKeySource, localDataKeySource, openEntry, sealEntry } from './envelope.js';

/** A local source that counts how often it is asked, as KMS would bill. */
const counted = () => {
  const inner = localDataKeySource(randomBytes(32));
  const calls = { generate: 0, unwrap: 0 };
  const source: DataKeySource = {
    withNewDataKey: (patient, use) => {
      calls.generate++;
      return inner.withNewDataKey(patient, use);
    },
    withDataKey: (wrapped, patient, use) => {
      calls.unwrap++;
      return inner.withDataKey(wrapped, patient, use);
    },
  };
  return { source, calls };
};

describe('data-key reuse', () => {
  it('seals and opens many entries of one patient with one data key, within the use bound', async () => {
    const { source, calls } = counted();
    const reusing = reusingDataKeys(source, { maxAgeMs: 60_000, maxUses: 25 });
    const entries = await Promise.all(Array.from({ length: 100 }, () => sealEntry(reusing, at(alice), resource, LATER)));
    expect(calls.generate).toBe(4); // 100 entries / 25 uses per key
    for (const entry of entries) expect(await openEntry(reusing, at(alice), entry, NOW)).toStrictEqual({ _tag: 'Opened', plaintext: resource });
    // One unwrap per wrapped key: each sealing key was used up (25 uses), so none is still held.
    expect(calls.unwrap).toBe(4);
    reusing.forget();
    // Forgotten: every held key wiped, and no key is used or held again.
    expect(await openEntry(reusing, at(alice), entries[0] as Buffer, NOW)).toStrictEqual({ _tag: 'KeyUnavailable' });
    await expect(sealEntry(reusing, at(alice), resource, LATER)).rejects.toThrow(/ended/);
    expect([calls.generate, calls.unwrap]).toStrictEqual([4, 4]);
  });

  it('wipes held keys once they are too old even when no call comes', async () => {
    let clock = 0;
    const wiped: Uint8Array[] = [];
    const inner = localDataKeySource(randomBytes(32));
    const reusing = reusingDataKeys(
      { ...inner, withNewDataKey: (patient, use) => inner.withNewDataKey(patient, (key, wrapped) => use(key, wrapped)) },
      { maxAgeMs: 1_000, maxUses: 10, now: () => clock },
    );
    await sealEntry(reusing, at(alice), resource, LATER);
    await reusing.withNewDataKey(alice, (key) => void wiped.push(key));
    expect(wiped[0]?.some((b) => b !== 0)).toBe(true);
    clock = 1_000;
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the sweep runs every min(maxAge, 60 s)
    expect(wiped[0]?.every((b) => b === 0)).toBe(true);
    reusing.forget();
  });

  it('fetches a fresh key once the held one is too old, and holds a bounded number of keys', async () => {
    const { source, calls } = counted();
    let clock = 0;
    const reusing = reusingDataKeys(source, { maxAgeMs: 1_000, maxUses: 1_000, maxKeys: 2, now: () => clock });
    await sealEntry(reusing, at(alice), resource, LATER);
    clock = 999;
    await sealEntry(reusing, at(alice), resource, LATER);
    expect(calls.generate).toBe(1);
    clock = 1_000;
    await sealEntry(reusing, at(alice), resource, LATER);
    expect(calls.generate).toBe(2);
    // Two keys held at most: sealing for bob and a third name evicts alice's.
    await sealEntry(reusing, at(bob), resource, LATER);
    await sealEntry(reusing, at(carol), resource, LATER);
    await sealEntry(reusing, at(alice), resource, LATER);
    expect(calls.generate).toBe(5);
    for (const bad of [{ maxUses: 0 }, { maxUses: Number.POSITIVE_INFINITY }, { maxAgeMs: Number.NaN }, { maxAgeMs: 10 }]) {
      expect(() => reusingDataKeys(source, { maxAgeMs: 1_000, maxUses: 10, ...bad })).toThrow(RangeError);
    }
  });

  it('wipes a held key once it is too old, even if its patient is never asked for again', async () => {
    const { source } = counted();
    let clock = 0;
    const reusing = reusingDataKeys(source, { maxAgeMs: 1_000, maxUses: 1_000, now: () => clock });
    const aliceKey = await reusing.withNewDataKey(alice, (key) => key); // the held key itself, to inspect
    expect(aliceKey.some((b) => b !== 0)).toBe(true);
    clock = 1_000;
    await sealEntry(reusing, at(bob), resource, LATER);
    expect(aliceKey.every((b) => b === 0)).toBe(true);
  });

  it("never lends one patient's key to another, and still refuses an entry opened as another patient's", async () => {
    const { source, calls } = counted();
    const reusing = reusingDataKeys(source, { maxAgeMs: 60_000, maxUses: 100 });
    const forAlice = await sealEntry(reusing, at(alice), resource, LATER);
    const forBob = await sealEntry(reusing, at(bob), resource, LATER);
    expect(calls.generate).toBe(2);
    expect(forAlice.subarray(14, 14 + forAlice.readUInt16BE(12)).equals(forBob.subarray(14, 14 + forBob.readUInt16BE(12)))).toBe(false);
    expect(await openEntry(reusing, at(alice), forAlice, NOW)).toStrictEqual({ _tag: 'Opened', plaintext: resource }); // alice's key now held
    expect(await openEntry(reusing, at(bob), forAlice, NOW)).toStrictEqual({ _tag: 'Rejected' });
  });
});
