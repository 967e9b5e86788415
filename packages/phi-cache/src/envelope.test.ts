// Envelope encryption fails closed: every changed byte, an entry or a wrapped key moved to another
// patient, another master key, or a truncated entry is Rejected — never data; expiry is believed
// only of an entry that authenticated.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { alice, at, bob, LATER, NOW, resource } from '../test/entries.js';
import { localDataKeySource, openEntry, sealEntry } from './envelope.js';

const source = localDataKeySource(randomBytes(32));

describe('envelope encryption', () => {
  it('opens what it sealed, and the entry holds neither the plaintext nor the patient HMAC', async () => {
    const entry = await sealEntry(source, at(alice), resource, LATER);
    expect(await openEntry(source, at(alice), entry, NOW)).toStrictEqual({ _tag: 'Opened', plaintext: resource });
    expect(entry.includes(resource)).toBe(false);
    expect(entry.includes(Buffer.from('Observation'))).toBe(false);
    expect(entry.includes(Buffer.from(alice))).toBe(false);
    // A fresh data key and IV each time: equal plaintexts give unrelated entries.
    expect((await sealEntry(source, at(alice), resource, LATER)).equals(entry)).toBe(false);
  });

  it('refuses an entry with any one byte changed: header, wrapped key, IV, tag or ciphertext', async () => {
    const entry = await sealEntry(source, at(alice), resource, LATER);
    for (let i = 0; i < entry.length; i++) {
      const tampered = Buffer.from(entry);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      expect(await openEntry(source, at(alice), tampered, NOW), `byte ${i}`).toStrictEqual({ _tag: 'Rejected' });
    }
  });

  it("refuses an entry opened as another patient's, or whose wrapped key was made for another patient", async () => {
    const forAlice = await sealEntry(source, at(alice), resource, LATER);
    const forBob = await sealEntry(source, at(bob), resource, LATER);
    expect(await openEntry(source, at(bob), forAlice, NOW)).toStrictEqual({ _tag: 'Rejected' });
    // Bob's wrapped key spliced into Alice's entry (same length, so the layout still parses).
    const wrappedEnd = 14 + forAlice.readUInt16BE(12);
    const spliced = Buffer.concat([forAlice.subarray(0, 14), forBob.subarray(14, wrappedEnd), forAlice.subarray(wrappedEnd)]);
    expect(spliced.length).toBe(forAlice.length);
    expect(await openEntry(source, at(alice), spliced, NOW)).toStrictEqual({ _tag: 'Rejected' });
    expect(await openEntry(source, at(bob), spliced, NOW)).toStrictEqual({ _tag: 'Rejected' });
  });

  it('refuses an entry under another master key, and any truncated or foreign bytes', async () => {
    const entry = await sealEntry(source, at(alice), resource, LATER);
    expect(await openEntry(localDataKeySource(randomBytes(32)), at(alice), entry, NOW)).toStrictEqual({ _tag: 'Rejected' });
    for (const length of [0, 3, 14, 20, 14 + entry.readUInt16BE(12) + 27, entry.length - 1]) {
      expect(await openEntry(source, at(alice), entry.subarray(0, length), NOW), `length ${length}`).toStrictEqual({ _tag: 'Rejected' });
    }
    expect(await openEntry(source, at(alice), Buffer.concat([entry, Buffer.from([0])]), NOW)).toStrictEqual({ _tag: 'Rejected' });
    expect(await openEntry(source, at(alice), Buffer.from('{"resourceType":"Patient"}'), NOW)).toStrictEqual({ _tag: 'Rejected' });
    expect(() => localDataKeySource(randomBytes(16))).toThrow(RangeError);
  });

  it('refuses an entry moved to another slot of the same patient, or opened after its expiry', async () => {
    const entry = await sealEntry(source, at(alice), resource, LATER);
    expect(await openEntry(source, at(alice, 'b'.repeat(64)), entry, NOW)).toStrictEqual({ _tag: 'Rejected' });
    expect(await openEntry(source, at(alice), entry, LATER - 1)).toStrictEqual({ _tag: 'Opened', plaintext: resource });
    expect(await openEntry(source, at(alice), entry, LATER)).toStrictEqual({ _tag: 'Expired' });
    // An expiry pushed later (or earlier) in the header fails the AAD: rejected, not a quiet expiry.
    const extended = Buffer.from(entry);
    extended.writeBigUInt64BE(BigInt(LATER + 3_600_000), 4);
    expect(await openEntry(source, at(alice), extended, LATER)).toStrictEqual({ _tag: 'Rejected' });
    const shortened = Buffer.from(entry);
    shortened.writeBigUInt64BE(BigInt(NOW - 1), 4);
    expect(await openEntry(source, at(alice), shortened, NOW)).toStrictEqual({ _tag: 'Rejected' });
  });

  it('refuses a use of a data key that would outlive it', async () => {
    await expect(source.withNewDataKey(alice, async (key) => key)).rejects.toThrow(/synchronously/);
  });
});
