// A throwaway PKI for the tests (ECDSA P-256): CAs, intermediates and SVID leaves made on the fly,
// never committed. @peculiar/x509 needs reflect-metadata loaded first and a WebCrypto provider set.
import 'reflect-metadata';
import type { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

type CryptoKeyPair = webcrypto.CryptoKeyPair;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' };
const HOUR = 3_600_000;

export interface Issued {
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
  readonly pem: string;
  readonly der: Buffer;
}

export interface CertOptions {
  readonly name?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** The whole extension list, replacing the defaults. */
  readonly extensions?: readonly x509.Extension[];
  /** Added to the defaults. */
  readonly extraExtensions?: readonly x509.Extension[];
  /** Name this issuer instead of the real one's subject (still signed by the real one's key). */
  readonly issuerName?: string;
}

export const newKeys = async (): Promise<CryptoKeyPair> =>
  (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;

const issued = (cert: x509.X509Certificate, keys: CryptoKeyPair): Issued => ({
  cert,
  keys,
  pem: cert.toString('pem'),
  der: Buffer.from(cert.rawData),
});

/** The basic constraints and key usage a CA (or leaf) carries. */
export const caExtensions = (pathLength?: number): x509.Extension[] => [
  new x509.BasicConstraintsExtension(true, pathLength, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];
export const uriSans = (...uris: string[]): x509.Extension => new x509.SubjectAlternativeNameExtension(uris.map((value) => ({ type: 'url' as const, value })), false);
export const leafExtensions = (...uris: string[]): x509.Extension[] => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement, true),
  uriSans(...uris),
];

const window = (options: CertOptions, now: Date) => ({
  notBefore: options.notBefore ?? new Date(now.getTime() - HOUR),
  notAfter: options.notAfter ?? new Date(now.getTime() + HOUR),
});

/** A self-signed root CA of `trustDomain`, valid an hour either side of `now`. */
export const makeRootCa = async (now: Date, trustDomain = 'example.org', options: CertOptions & { readonly pathLength?: number } = {}): Promise<Issued> => {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: options.name ?? `CN=Root CA ${trustDomain}`,
    keys,
    signingAlgorithm: SIGNING,
    ...window(options, now),
    extensions: [...(options.extensions ?? [...caExtensions(options.pathLength), uriSans(`spiffe://${trustDomain}`)]), ...(options.extraExtensions ?? [])],
  });
  return issued(cert, keys);
};

/** A certificate for a fresh key, issued by `issuer`. */
export const issue = async (issuer: Issued, now: Date, extensions: readonly x509.Extension[], options: CertOptions = {}): Promise<Issued> => {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    subject: options.name ?? 'CN=workload',
    issuer: options.issuerName ?? issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: SIGNING,
    ...window(options, now),
    extensions: [...(options.extensions ?? extensions), ...(options.extraExtensions ?? [])],
  });
  return issued(cert, keys);
};

export const makeIntermediateCa = (issuer: Issued, now: Date, options: CertOptions & { readonly pathLength?: number } = {}): Promise<Issued> =>
  issue(issuer, now, [...caExtensions(options.pathLength), uriSans('spiffe://example.org')], { name: 'CN=Intermediate CA', ...options });

export const makeLeaf = (issuer: Issued, now: Date, id = 'spiffe://example.org/hipaa-fhir-mcp', options: CertOptions = {}): Promise<Issued> =>
  issue(issuer, now, leafExtensions(id), options);

/** PEM of several certificates, one after the other. */
export const pemOf = (...certs: readonly Issued[]): string => certs.map((cert) => cert.pem).join('\n');

/** Concatenated DER, as the Workload API sends chains and bundles. */
export const derOf = (...certs: readonly Issued[]): Buffer => Buffer.concat(certs.map((cert) => cert.der));

/** The private key as unencrypted PKCS#8 DER, as the Workload API sends it. */
export const pkcs8Of = async (cert: Issued): Promise<Buffer> => Buffer.from(await crypto.subtle.exportKey('pkcs8', cert.keys.privateKey));

export { x509 };
