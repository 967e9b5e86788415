// The DER reader takes whole, minimally encoded items only: concatenated certificates split back
// exactly, and truncated, padded, indefinite-length or non-minimal input reads as undefined.
import { beforeAll, describe, expect, it } from 'vitest';
import { derOf, type Issued, makeIntermediateCa, makeLeaf, makeRootCa } from '../test/pki.js';
import { pemCertificates, readDerItem, splitConcatenatedDer } from './der.js';

const NOW = new Date('2026-03-01T12:00:00Z');
let certs: Issued[];
beforeAll(async () => {
  const root = await makeRootCa(NOW);
  const intermediate = await makeIntermediateCa(root, NOW);
  certs = [await makeLeaf(intermediate, NOW), intermediate, root];
});

describe('splitConcatenatedDer', () => {
  it('splits concatenated certificates back into each one, and nothing into nothing', () => {
    expect(splitConcatenatedDer(derOf(...certs))).toStrictEqual(certs.map((cert) => cert.der));
    expect(splitConcatenatedDer(Buffer.alloc(0))).toStrictEqual([]);
  });

  it('refuses a truncated certificate, trailing bytes, or something other than a SEQUENCE', () => {
    const all = derOf(...certs);
    expect(splitConcatenatedDer(all.subarray(0, all.length - 1))).toBeUndefined();
    expect(splitConcatenatedDer(Buffer.concat([all, Buffer.from([0x30])]))).toBeUndefined();
    expect(splitConcatenatedDer(Buffer.concat([all, Buffer.from([0x04, 0x00])]))).toBeUndefined();
  });
});

describe('readDerItem', () => {
  it('reads short and long lengths', () => {
    expect(readDerItem(Buffer.from([0x04, 0x02, 0xaa, 0xbb]), 0)).toStrictEqual({ tag: 0x04, content: Buffer.from([0xaa, 0xbb]), end: 4 });
    const long = Buffer.concat([Buffer.from([0x04, 0x81, 0x80]), Buffer.alloc(0x80, 1)]);
    expect(readDerItem(long, 0)?.content.length).toBe(0x80);
  });

  it('refuses indefinite, non-minimal or overlong lengths, high tag numbers and truncation', () => {
    for (const bytes of [
      [0x30, 0x80, 0x00, 0x00], // indefinite
      [0x04, 0x81, 0x01, 0xaa], // long form for a short length
      [0x04, 0x82, 0x00, 0x80, ...Array<number>(0x80).fill(0)], // a leading zero length byte
      [0x04, 0x85, 0, 0, 0, 0, 1, 0], // five length bytes
      [0x1f, 0x01, 0x00], // high tag number
      [0x04, 0x03, 0xaa], // truncated
      [0x04], // no length
    ]) {
      expect(readDerItem(Buffer.from(bytes), 0), bytes.join(',')).toBeUndefined();
    }
  });
});

describe('pemCertificates', () => {
  it('reads each CERTIFICATE block in order, skipping other blocks and text', () => {
    const pem = `intro\n${certs[0]?.pem}\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n${certs[1]?.pem}`;
    expect(pemCertificates(pem)).toStrictEqual([certs[0]?.der, certs[1]?.der]);
    expect(pemCertificates('')).toStrictEqual([]);
  });

  it('refuses mismatched labels and unterminated blocks', () => {
    const pem = certs[0]?.pem ?? '';
    expect(pemCertificates(pem.replace('END CERTIFICATE', 'END X509 CRL'))).toBeUndefined();
    expect(pemCertificates(`${pem}-----BEGIN CERTIFICATE-----\nAAAA\n`)).toBeUndefined();
  });
});
