import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hmacPatientId, PatientIdHmac } from './PatientIdHmac.js';

describe('hmacPatientId', () => {
  it('is HMAC-SHA-256 of the UTF-8 id, as node:crypto and openssl compute it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 64 }), fc.string({ unit: 'binary' }), (bytes, raw) => {
        const expected = createHmac('sha256', bytes).update(raw, 'utf8').digest('hex');
        expect(hmacPatientId({ id: 'k', bytes }, raw)).toBe(expected);
      }),
    );
  });

  it('is keyed: never the plain SHA-256 of the id, and different under another key', () => {
    const raw = '4e122e91-c63f-4112-a778-6ccf5abfd6f2';
    const one = hmacPatientId({ id: 'a', bytes: new Uint8Array(32).fill(1) }, raw);
    const two = hmacPatientId({ id: 'b', bytes: new Uint8Array(32).fill(2) }, raw);
    expect(one).not.toBe(createHash('sha256').update(raw).digest('hex'));
    expect(one).not.toBe(two);
    expect(PatientIdHmac.is(one)).toBe(true);
  });

  it('brands only 64 lowercase hex characters', () => {
    expect(PatientIdHmac.is('a'.repeat(64))).toBe(true);
    for (const bad of ['A'.repeat(64), 'a'.repeat(63), 'g'.repeat(64), '4e122e91-c63f']) expect(PatientIdHmac.is(bad)).toBe(false);
  });
});
