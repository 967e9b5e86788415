// X.509-SVID validation as the X509-SVID standard asks (§5): the leaf's one SPIFFE ID and its leaf
// constraints, then a path to a bundle CA with each link's name and signature checked by OpenSSL.
// Problems are fixed codes: a refusal never echoes certificate contents into logs.
// See: https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md
import { type Certificate, readCertificate } from './certificate.js';
import { pemCertificates } from './der.js';
import { hasPath, parseSpiffeId, type SpiffeId, trustDomainOf } from './spiffeId.js';

/** Why an SVID was refused: a fixed code, never certificate contents. */
export type SvidProblem =
  /** Not PEM/DER certificates, or a certificate this module or OpenSSL cannot parse (or a file that cannot be read). */
  | 'unreadable'
  /** No certificate where the SVID should be. */
  | 'no-certificate'
  /** The trust bundle holds no certificate. */
  | 'no-trust-bundle'
  /** The leaf has zero or several URI SANs; the spec allows exactly one. */
  | 'not-one-uri-san'
  | 'not-a-spiffe-id'
  /** The leaf's SPIFFE ID has no path: it names a trust domain, not a workload. */
  | 'spiffe-id-without-path'
  | 'leaf-is-ca'
  /** No keyUsage extension, or no digitalSignature in it. */
  | 'leaf-cannot-sign'
  /** keyCertSign or cRLSign on the leaf. */
  | 'leaf-may-sign-certificates'
  /** A certificate on the path has a critical extension this module does not process (e.g. name constraints). */
  | 'unsupported-critical-extension'
  /** A certificate on the path is past its notAfter. */
  | 'expired'
  /** A certificate on the path is before its notBefore. */
  | 'not-yet-valid'
  | 'untrusted-chain'
  | 'wrong-trust-domain'
  /** The Workload API sent a private key that is not the leaf's. */
  | 'private-key-mismatch';

export type SvidVerdict =
  | { readonly ok: true; readonly spiffeId: SpiffeId; readonly notAfter: Date }
  | { readonly ok: false; readonly problem: SvidProblem };

/** A verified SVID with what the identity sources keep about it. */
export interface VerifiedSvid {
  readonly spiffeId: SpiffeId;
  /** The latest notBefore and earliest notAfter on the verified path: the SVID is usable in between. */
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly leaf: Certificate;
}

export interface DerSvid {
  /** Leaf first, then intermediates, each issued by the next. */
  readonly chain: readonly Buffer[];
  /** Trust anchors: CA certificates of the trust domain. */
  readonly bundle: readonly Buffer[];
  readonly now: Date;
  /** A trust domain name such as `example.org`; when set, the SPIFFE ID must be in it. */
  readonly trustDomain?: string | undefined;
}

type Outcome = { readonly ok: true; readonly svid: VerifiedSvid } | { readonly ok: false; readonly problem: SvidProblem };
const refuse = (problem: SvidProblem): Outcome => ({ ok: false, problem });

const validityProblem = (certificate: Certificate, now: Date): SvidProblem | undefined =>
  now < certificate.notBefore ? 'not-yet-valid' : now > certificate.notAfter ? 'expired' : undefined;

/**
 * Whether `issuer` may have issued `subject` with `below` intermediate CAs between it and the leaf:
 * a CA allowed to sign certificates within its path length, whose name and key OpenSSL accept for
 * the subject's issuer name, key identifier and signature.
 */
const issued = (issuer: Certificate, subject: Certificate, below: number): boolean => {
  if (!issuer.isCa || issuer.keyUsage?.keyCertSign === false) return false;
  if (issuer.pathLenConstraint !== undefined && below > issuer.pathLenConstraint) return false;
  try {
    return subject.x509.checkIssued(issuer.x509) && subject.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
};

/** Problems of a CA certificate on the path other than whether it issued the one below. */
const signerProblem = (signer: Certificate, now: Date): SvidProblem | undefined =>
  signer.hasUnknownCriticalExtension ? 'unsupported-critical-extension' : validityProblem(signer, now);

/** The X.509-SVID checks on DER input: what verifyX509Svid does, for the Workload API's bytes. */
export const verifyDerSvid = (input: DerSvid): Outcome => {
  if (input.chain.length === 0) return refuse('no-certificate');
  const chain: Certificate[] = [];
  for (const der of input.chain) {
    const certificate = readCertificate(der);
    if (certificate === undefined) return refuse('unreadable');
    chain.push(certificate);
  }
  const bundle: Certificate[] = [];
  for (const der of input.bundle) {
    const certificate = readCertificate(der);
    if (certificate === undefined) return refuse('unreadable');
    bundle.push(certificate);
  }
  if (bundle.length === 0) return refuse('no-trust-bundle');

  const leaf = chain[0] as Certificate;
  const [uri, ...moreUris] = leaf.uriSans;
  if (uri === undefined || moreUris.length > 0) return refuse('not-one-uri-san');
  const spiffeId = parseSpiffeId(uri);
  if (spiffeId === undefined) return refuse('not-a-spiffe-id');
  if (!hasPath(spiffeId)) return refuse('spiffe-id-without-path');
  if (leaf.isCa) return refuse('leaf-is-ca');
  if (leaf.keyUsage?.digitalSignature !== true) return refuse('leaf-cannot-sign');
  if (leaf.keyUsage.keyCertSign || leaf.keyUsage.cRLSign) return refuse('leaf-may-sign-certificates');
  if (leaf.hasUnknownCriticalExtension) return refuse('unsupported-critical-extension');
  const leafProblem = validityProblem(leaf, input.now);
  if (leafProblem !== undefined) return refuse(leafProblem);

  // Walk up from the leaf: stop at the first bundle CA that issued the current certificate and is
  // usable now; otherwise the next certificate of the chain must have issued it.
  const path: Certificate[] = [leaf];
  for (let current = leaf; ; ) {
    const below = path.length - 1;
    const anchors = bundle.filter((anchor) => issued(anchor, current, below));
    const anchor = anchors.find((candidate) => signerProblem(candidate, input.now) === undefined);
    if (anchor !== undefined) {
      path.push(anchor);
      break;
    }
    const next = chain[path.length];
    if (next === undefined || !issued(next, current, below)) {
      const anchorProblem = anchors[0] === undefined ? undefined : signerProblem(anchors[0], input.now);
      return refuse(anchorProblem ?? 'untrusted-chain');
    }
    const nextProblem = signerProblem(next, input.now);
    if (nextProblem !== undefined) return refuse(nextProblem);
    path.push(next);
    current = next;
  }

  if (input.trustDomain !== undefined && trustDomainOf(spiffeId) !== input.trustDomain) return refuse('wrong-trust-domain');
  const notBefore = new Date(Math.max(...path.map((certificate) => certificate.notBefore.getTime())));
  const notAfter = new Date(Math.min(...path.map((certificate) => certificate.notAfter.getTime())));
  return { ok: true, svid: { spiffeId, notBefore, notAfter, leaf } };
};

/** The X.509-SVID checks on PEM input. */
export const verifyPemSvid = (input: { readonly certChainPem: string; readonly bundlePem: string; readonly now: Date; readonly trustDomain?: string | undefined }): Outcome => {
  const chain = pemCertificates(input.certChainPem);
  const bundle = pemCertificates(input.bundlePem);
  if (chain === undefined || bundle === undefined) return refuse('unreadable');
  return verifyDerSvid({ chain, bundle, now: input.now, trustDomain: input.trustDomain });
};

/**
 * Verifies an X.509-SVID (PEM, leaf first, then intermediates) against a trust bundle (PEM, one or
 * more CA certificates) at `now`: exactly one URI SAN that is a SPIFFE ID with a path; the leaf not a
 * CA, allowed digitalSignature and not keyCertSign or cRLSign; every certificate on the path valid at
 * `now` with no critical extension left unprocessed; each link named and signed by the next, up to a
 * bundle CA, intermediates being CAs within their path length; and, if given, the trust domain.
 * `notAfter` is the earliest on the path, so an intermediate that expires first ends the SVID too.
 */
export const verifyX509Svid = (input: { readonly certChainPem: string; readonly bundlePem: string; readonly now: Date; readonly trustDomain?: string }): SvidVerdict => {
  const outcome = verifyPemSvid(input);
  return outcome.ok ? { ok: true, spiffeId: outcome.svid.spiffeId, notAfter: outcome.svid.notAfter } : outcome;
};
