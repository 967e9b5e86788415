// verifyX509Svid accepts a well-formed SVID on a signed path to the bundle, and refuses each way an
// SVID can break the X509-SVID standard with its fixed code — including forgeries that only a real
// signature check catches (an impostor CA with the right name, an ID edited after signing).
import { beforeAll, describe, expect, it } from 'vitest';
import { caExtensions, type Issued, leafExtensions, makeIntermediateCa, makeLeaf, makeRootCa, pemOf, uriSans, x509 } from '../test/pki.js';
import { verifyX509Svid } from './verifyX509Svid.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const MINUTE = 60_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);
const ID = 'spiffe://example.org/hipaa-fhir-mcp';

const toPem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
const verify = (chain: readonly Issued[] | string, bundle: readonly Issued[] | string, options: { now?: Date; trustDomain?: string } = {}) =>
  verifyX509Svid({
    certChainPem: typeof chain === 'string' ? chain : pemOf(...chain),
    bundlePem: typeof bundle === 'string' ? bundle : pemOf(...bundle),
    now: options.now ?? NOW,
    ...(options.trustDomain === undefined ? {} : { trustDomain: options.trustDomain }),
  });
const refused = (problem: string) => ({ ok: false, problem });

let root: Issued;
let leaf: Issued;
beforeAll(async () => {
  root = await makeRootCa(NOW);
  leaf = await makeLeaf(root, NOW, ID, { notAfter: at(30 * MINUTE) });
});

describe('verifyX509Svid: a valid SVID', () => {
  it('yields its SPIFFE ID and notAfter', () => {
    expect(verify([leaf], [root])).toStrictEqual({ ok: true, spiffeId: ID, notAfter: at(30 * MINUTE) });
  });

  it('follows intermediates, and its notAfter is the earliest on the path', async () => {
    const intermediate = await makeIntermediateCa(root, NOW, { notAfter: at(20 * MINUTE) });
    const viaIntermediate = await makeLeaf(intermediate, NOW, ID);
    expect(verify([viaIntermediate, intermediate], [root])).toStrictEqual({ ok: true, spiffeId: ID, notAfter: at(20 * MINUTE) });
    // Root and intermediate both in the bundle (SPIRE with an upstream authority): the path may stop at either.
    expect(verify([viaIntermediate, intermediate], [root, intermediate])).toMatchObject({ ok: true, spiffeId: ID });
  });

  it('finds its CA among several in the bundle, and ignores non-certificate PEM blocks and text', async () => {
    const other = await makeRootCa(NOW, 'example.org', { name: 'CN=Other CA' });
    const withNoise = `subject=CN=workload\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n${leaf.pem}`;
    expect(verify(withNoise, [other, root])).toMatchObject({ ok: true, spiffeId: ID });
  });

  it('is valid from notBefore to notAfter inclusive', async () => {
    const exact = await makeLeaf(root, NOW, ID, { notBefore: at(-MINUTE), notAfter: at(MINUTE) });
    expect(verify([exact], [root], { now: at(-MINUTE) })).toMatchObject({ ok: true });
    expect(verify([exact], [root], { now: at(MINUTE) })).toMatchObject({ ok: true });
    expect(verify([exact], [root], { now: at(MINUTE + 1_000) })).toStrictEqual(refused('expired'));
    expect(verify([exact], [root], { now: at(-MINUTE - 1_000) })).toStrictEqual(refused('not-yet-valid'));
  });

  it('may carry other SAN types beside its one URI, and non-critical extensions it does not know', async () => {
    const withDns = await makeLeaf(root, NOW, ID, {
      extensions: [
        ...leafExtensions().slice(0, 2),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'mcp.example.org' }, { type: 'url', value: ID }, { type: 'ip', value: '10.0.0.1' }]),
        new x509.Extension('1.3.6.1.4.1.55555.1', false, new Uint8Array([0x05, 0x00])),
      ],
    });
    expect(verify([withDns], [root])).toMatchObject({ ok: true, spiffeId: ID });
  });

  it('is checked against the trust domain when one is given', () => {
    expect(verify([leaf], [root], { trustDomain: 'example.org' })).toMatchObject({ ok: true });
    expect(verify([leaf], [root], { trustDomain: 'other.org' })).toStrictEqual(refused('wrong-trust-domain'));
    expect(verify([leaf], [root], { trustDomain: 'example.or' })).toStrictEqual(refused('wrong-trust-domain'));
  });
});

describe('verifyX509Svid: the leaf', () => {
  it('must have exactly one URI SAN', async () => {
    const two = await makeLeaf(root, NOW, ID, { extensions: [...leafExtensions().slice(0, 2), uriSans(ID, 'spiffe://example.org/other')] });
    const none = await makeLeaf(root, NOW, ID, { extensions: leafExtensions().slice(0, 2) });
    const dnsOnly = await makeLeaf(root, NOW, ID, {
      extensions: [...leafExtensions().slice(0, 2), new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'mcp.example.org' }])],
    });
    expect(verify([two], [root])).toStrictEqual(refused('not-one-uri-san'));
    expect(verify([none], [root])).toStrictEqual(refused('not-one-uri-san'));
    expect(verify([dnsOnly], [root])).toStrictEqual(refused('not-one-uri-san'));
  });

  it('must name a SPIFFE ID, with a path', async () => {
    const https = await makeLeaf(root, NOW, 'https://example.org/hipaa-fhir-mcp');
    const upperCase = await makeLeaf(root, NOW, 'spiffe://EXAMPLE.org/hipaa-fhir-mcp');
    const dotDot = await makeLeaf(root, NOW, 'spiffe://example.org/a/../hipaa-fhir-mcp');
    const domainOnly = await makeLeaf(root, NOW, 'spiffe://example.org');
    expect(verify([https], [root])).toStrictEqual(refused('not-a-spiffe-id'));
    expect(verify([upperCase], [root])).toStrictEqual(refused('not-a-spiffe-id'));
    expect(verify([dotDot], [root])).toStrictEqual(refused('not-a-spiffe-id'));
    expect(verify([domainOnly], [root])).toStrictEqual(refused('spiffe-id-without-path'));
  });

  it('must not be a CA', async () => {
    const caLeaf = await makeLeaf(root, NOW, ID, {
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), ...leafExtensions(ID).slice(1)],
    });
    expect(verify([caLeaf], [root])).toStrictEqual(refused('leaf-is-ca'));
  });

  it('must be allowed digitalSignature, and neither keyCertSign nor cRLSign', async () => {
    const withUsage = (usages: number) =>
      makeLeaf(root, NOW, ID, { extensions: [leafExtensions()[0] as x509.Extension, new x509.KeyUsagesExtension(usages, true), uriSans(ID)] });
    const noKeyUsage = await makeLeaf(root, NOW, ID, { extensions: [leafExtensions()[0] as x509.Extension, uriSans(ID)] });
    const { digitalSignature, keyAgreement, keyCertSign, cRLSign } = x509.KeyUsageFlags;
    expect(verify([noKeyUsage], [root])).toStrictEqual(refused('leaf-cannot-sign'));
    expect(verify([await withUsage(keyAgreement)], [root])).toStrictEqual(refused('leaf-cannot-sign'));
    expect(verify([await withUsage(digitalSignature | keyCertSign)], [root])).toStrictEqual(refused('leaf-may-sign-certificates'));
    expect(verify([await withUsage(digitalSignature | cRLSign)], [root])).toStrictEqual(refused('leaf-may-sign-certificates'));
    expect(verify([await withUsage(digitalSignature)], [root])).toMatchObject({ ok: true });
  });

  it('must be within its validity', () => {
    expect(verify([leaf], [root], { now: at(31 * MINUTE) })).toStrictEqual(refused('expired'));
    expect(verify([leaf], [root], { now: at(-61 * MINUTE) })).toStrictEqual(refused('not-yet-valid'));
  });

  it('must carry no critical extension left unprocessed', async () => {
    const critical = await makeLeaf(root, NOW, ID, { extraExtensions: [new x509.Extension('1.3.6.1.4.1.55555.1', true, new Uint8Array([0x05, 0x00]))] });
    expect(verify([critical], [root])).toStrictEqual(refused('unsupported-critical-extension'));
  });
});

describe('verifyX509Svid: the path to the bundle', () => {
  it('refuses a chain to a CA not in the bundle', async () => {
    const stranger = await makeRootCa(NOW);
    const strangersLeaf = await makeLeaf(stranger, NOW, ID);
    expect(verify([strangersLeaf], [root])).toStrictEqual(refused('untrusted-chain'));
    // Sending the stranger's CA along in the chain does not make it trusted.
    expect(verify([strangersLeaf, stranger], [root])).toStrictEqual(refused('untrusted-chain'));
  });

  it("refuses a leaf signed by an impostor with the bundle CA's name", async () => {
    const impostor = await makeRootCa(NOW, 'example.org', { name: root.cert.subject });
    const forged = await makeLeaf(impostor, NOW, ID);
    expect(forged.cert.issuer).toBe(root.cert.subject);
    expect(verify([forged], [root])).toStrictEqual(refused('untrusted-chain'));
    expect(verify([forged], [impostor])).toMatchObject({ ok: true }); // a good SVID, from the wrong CA
  });

  it("refuses a leaf signed by the bundle CA's key under another issuer name", async () => {
    const misnamed = await makeLeaf(root, NOW, ID, { issuerName: 'CN=Some Other CA' });
    expect(verify([misnamed], [root])).toStrictEqual(refused('untrusted-chain'));
  });

  it('refuses a leaf whose SPIFFE ID was edited after signing, or whose signature was changed', () => {
    const edited = Buffer.from(leaf.der);
    const at = edited.indexOf(Buffer.from('hipaa-fhir-mcp'));
    expect(at).toBeGreaterThan(0);
    edited[at] = 'H'.charCodeAt(0);
    expect(verify(toPem(edited), [root])).toStrictEqual(refused('untrusted-chain'));
    const resigned = Buffer.from(leaf.der);
    resigned[resigned.length - 1] = (resigned[resigned.length - 1] as number) ^ 0x01;
    expect(verify(toPem(resigned), [root])).toStrictEqual(refused('untrusted-chain'));
  });

  it('needs every intermediate, in order, each a CA', async () => {
    const intermediate = await makeIntermediateCa(root, NOW);
    const viaIntermediate = await makeLeaf(intermediate, NOW, ID);
    expect(verify([viaIntermediate], [root])).toStrictEqual(refused('untrusted-chain'));
    const notCa = await makeIntermediateCa(root, NOW, { extensions: [new x509.BasicConstraintsExtension(false, undefined, true), uriSans('spiffe://example.org')] });
    const viaNotCa = await makeLeaf(notCa, NOW, ID);
    expect(verify([viaNotCa, notCa], [root])).toStrictEqual(refused('untrusted-chain'));
    const cannotSign = await makeIntermediateCa(root, NOW, {
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    });
    const viaCannotSign = await makeLeaf(cannotSign, NOW, ID);
    expect(verify([viaCannotSign, cannotSign], [root])).toStrictEqual(refused('untrusted-chain'));
  });

  it("keeps to each CA's path length", async () => {
    const strictRoot = await makeRootCa(NOW, 'example.org', { pathLength: 0 });
    const looseRoot = await makeRootCa(NOW, 'example.org', { pathLength: 1 });
    for (const [ca, expected] of [[strictRoot, refused('untrusted-chain')], [looseRoot, { ok: true, spiffeId: ID }]] as const) {
      const intermediate = await makeIntermediateCa(ca, NOW);
      const viaIntermediate = await makeLeaf(intermediate, NOW, ID);
      expect(verify([viaIntermediate, intermediate], [ca])).toMatchObject(expected);
      expect(verify([await makeLeaf(ca, NOW, ID)], [ca])).toMatchObject({ ok: true });
    }
  });

  it('refuses an expired or not yet valid intermediate or bundle CA', async () => {
    const intermediate = await makeIntermediateCa(root, NOW, { notBefore: at(-90 * MINUTE), notAfter: at(-MINUTE) });
    const viaExpired = await makeLeaf(intermediate, NOW, ID, { notBefore: at(-90 * MINUTE) });
    expect(verify([viaExpired, intermediate], [root])).toStrictEqual(refused('expired'));
    const laterRoot = await makeRootCa(NOW, 'example.org', { notBefore: at(MINUTE) });
    expect(verify([await makeLeaf(laterRoot, NOW, ID)], [laterRoot])).toStrictEqual(refused('not-yet-valid'));
    const expiredRoot = await makeRootCa(NOW, 'example.org', { notAfter: at(-MINUTE) });
    expect(verify([await makeLeaf(expiredRoot, NOW, ID)], [expiredRoot])).toStrictEqual(refused('expired'));
  });

  it('refuses a CA on the path with a critical extension it does not process (name constraints)', async () => {
    // permittedSubtrees: URI example.org
    const nameConstraints = new Uint8Array([0x30, 0x11, 0xa0, 0x0f, 0x30, 0x0d, 0x86, 0x0b, ...Buffer.from('example.org')]);
    const constrained = await makeIntermediateCa(root, NOW, { extensions: [...caExtensions(), new x509.Extension('2.5.29.30', true, nameConstraints)] });
    const viaConstrained = await makeLeaf(constrained, NOW, ID);
    expect(verify([viaConstrained, constrained], [root])).toStrictEqual(refused('unsupported-critical-extension'));
  });
});

describe('verifyX509Svid: the input', () => {
  it('refuses what is not PEM certificates, with no SVID or with no bundle', () => {
    expect(verify('', [root])).toStrictEqual(refused('no-certificate'));
    expect(verify('not a certificate', [root])).toStrictEqual(refused('no-certificate'));
    expect(verify([leaf], '')).toStrictEqual(refused('no-trust-bundle'));
    expect(verify('-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n', [root])).toStrictEqual(refused('unreadable'));
    expect(verify(leaf.pem.replace('-----END CERTIFICATE-----', ''), [root])).toStrictEqual(refused('unreadable'));
    expect(verify(toPem(leaf.der.subarray(0, leaf.der.length - 1)), [root])).toStrictEqual(refused('unreadable'));
    expect(verify(toPem(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])), [root])).toStrictEqual(refused('unreadable'));
    expect(verify([leaf], toPem(Buffer.from([0x30, 0x00])))).toStrictEqual(refused('unreadable'));
  });
});
