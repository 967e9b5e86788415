// Envelope encryption fails closed: every changed byte, an entry or a wrapped key moved to another
// patient, another master key, or a truncated entry opens to undefined — never to data.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacKeyId, hmacPatientId } from '@hipaa-fhir-mcp/core';
import { localDataKeySource, openEntry, sealEntry } from './envelope.js';

const hmacKeyBytes = randomBytes(32);
const hmacKey = { id: hmacKeyId(hmacKeyBytes), bytes: hmacKeyBytes };
const alice = hmacPatientId(hmacKey, 'synthetic-patient-a');
const bob = hmacPatientId(hmacKey, 'synthetic-patient-b');
const source = localDataKeySource(randomBytes(32));
const resource = Buffer.from(JSON.stringify({ resourceType: 'Observation', id: 'obs-1', valueQuantity: { value: 72, unit: '/min' } }));

describe('envelope encryption', () => {
  it('opens what it sealed, and the entry holds neither the plaintext nor the patient HMAC', async () => {
    const entry = await sealEntry(source, alice, resource);
    expect(await openEntry(source, alice, entry)).toStrictEqual(resource);
    expect(entry.includes(resource)).toBe(false);
    expect(entry.includes(Buffer.from('Observation'))).toBe(false);
    expect(entry.includes(Buffer.from(alice))).toBe(false);
    // A fresh data key and IV each time: equal plaintexts give unrelated entries.
    expect((await sealEntry(source, alice, resource)).equals(entry)).toBe(false);
  });

  it('refuses an entry with any one byte changed: header, wrapped key, IV, tag or ciphertext', async () => {
    const entry = await sealEntry(source, alice, resource);
    for (let i = 0; i < entry.length; i++) {
      const tampered = Buffer.from(entry);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      expect(await openEntry(source, alice, tampered), `byte ${i}`).toBeUndefined();
    }
  });

  it("refuses an entry opened as another patient's, or whose wrapped key was made for another patient", async () => {
    const forAlice = await sealEntry(source, alice, resource);
    const forBob = await sealEntry(source, bob, resource);
    expect(await openEntry(source, bob, forAlice)).toBeUndefined();
    // Bob's wrapped key spliced into Alice's entry (same length, so the layout still parses).
    const wrappedEnd = 6 + forAlice.readUInt16BE(4);
    const spliced = Buffer.concat([forAlice.subarray(0, 6), forBob.subarray(6, wrappedEnd), forAlice.subarray(wrappedEnd)]);
    expect(spliced.length).toBe(forAlice.length);
    expect(await openEntry(source, alice, spliced)).toBeUndefined();
    expect(await openEntry(source, bob, spliced)).toBeUndefined();
  });

  it('refuses an entry under another master key, and any truncated or foreign bytes', async () => {
    const entry = await sealEntry(source, alice, resource);
    expect(await openEntry(localDataKeySource(randomBytes(32)), alice, entry)).toBeUndefined();
    for (const length of [0, 3, 6, 20, 6 + entry.readUInt16BE(4) + 27, entry.length - 1]) {
      expect(await openEntry(source, alice, entry.subarray(0, length)), `length ${length}`).toBeUndefined();
    }
    expect(await openEntry(source, alice, Buffer.concat([entry, Buffer.from([0])]))).toBeUndefined();
    expect(await openEntry(source, alice, Buffer.from('{"resourceType":"Patient"}'))).toBeUndefined();
    expect(() => localDataKeySource(randomBytes(16))).toThrow(RangeError);
  });
});
