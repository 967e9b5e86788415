// The certificate reader gets the SVID-relevant facts exactly (both time encodings, key usage bits,
// every URI SAN, path length) and reads a certificate with a repeated extension as unreadable.
import { describe, expect, it } from 'vitest';
import { caExtensions, issue, leafExtensions, makeRootCa, uriSans, x509 } from '../test/pki.js';
import { readCertificate } from './certificate.js';

const NOW = new Date('2026-03-01T12:00:00Z');

describe('readCertificate', () => {
  it("reads a leaf's validity, constraints, key usage and URI SANs", async () => {
    const root = await makeRootCa(NOW);
    const notBefore = new Date('1999-12-31T23:59:59Z'); // UTCTime, 19xx
    const notAfter = new Date('2060-01-01T00:00:00Z'); // GeneralizedTime
    const leaf = await issue(root, NOW, [...leafExtensions('spiffe://example.org/a', 'https://example.org/b')], { notBefore, notAfter });
    const facts = readCertificate(leaf.der);
    if (facts === undefined) throw new Error('expected a certificate');
    const { der, x509: openssl, ...read } = facts;
    expect([der, openssl.raw]).toStrictEqual([leaf.der, leaf.der]);
    expect(read).toStrictEqual({
      notBefore,
      notAfter,
      isCa: false,
      pathLenConstraint: undefined,
      keyUsage: { digitalSignature: true, keyCertSign: false, cRLSign: false },
      uriSans: ['spiffe://example.org/a', 'https://example.org/b'],
      hasUnknownCriticalExtension: false,
    });
  });

  it("reads a CA's path length and signing bits", async () => {
    const root = await makeRootCa(NOW, 'example.org', { pathLength: 2 });
    expect(readCertificate(root.der)).toMatchObject({ isCa: true, pathLenConstraint: 2, keyUsage: { digitalSignature: false, keyCertSign: true, cRLSign: true } });
  });

  it('refuses a repeated extension, and bytes that are not a certificate', async () => {
    const root = await makeRootCa(NOW);
    const twice = await issue(root, NOW, [...caExtensions(), uriSans('spiffe://example.org/a'), uriSans('spiffe://example.org/b')]);
    expect(readCertificate(twice.der)).toBeUndefined();
    expect(readCertificate(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toBeUndefined();
    expect(readCertificate(Buffer.concat([root.der, Buffer.from([0x00])]))).toBeUndefined();
    const unknownCritical = await issue(root, NOW, [...leafExtensions('spiffe://example.org/a'), new x509.Extension('1.2.3.4', true, new Uint8Array([0x05, 0x00]))]);
    expect(readCertificate(unknownCritical.der)?.hasUnknownCriticalExtension).toBe(true);
  });
});
