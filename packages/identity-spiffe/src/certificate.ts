// The facts of an X.509 certificate that SVID validation needs. node:crypto verifies signatures and
// issuer names but, on Node 20, exposes neither the key usage bits nor exact URI SANs (only display
// text), so those come from the DER here; a certificate either parser refuses is unreadable.
import { X509Certificate } from 'node:crypto';
import { readDerChildren, readDerItem, SEQUENCE } from './der.js';

export interface Certificate {
  readonly der: Buffer;
  /** OpenSSL's view, for checkIssued and verify. */
  readonly x509: X509Certificate;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** basicConstraints cA; false when the extension is absent. */
  readonly isCa: boolean;
  readonly pathLenConstraint: number | undefined;
  /** Undefined when the certificate has no keyUsage extension. */
  readonly keyUsage: { readonly digitalSignature: boolean; readonly keyCertSign: boolean; readonly cRLSign: boolean } | undefined;
  /** Every uniformResourceIdentifier in subjectAltName, in order. */
  readonly uriSans: readonly string[];
  /** A critical extension this module does not understand: RFC 5280 says refuse the certificate. */
  readonly hasUnknownCriticalExtension: boolean;
}

const BOOLEAN = 0x01;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OID = 0x06;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
const VERSION = 0xa0;
const ISSUER_UNIQUE_ID = 0x81;
const SUBJECT_UNIQUE_ID = 0x82;
const EXTENSIONS = 0xa3;
const SAN_URI = 0x86;

const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';
const SUBJECT_ALT_NAME = '2.5.29.17';
/**
 * Extensions that may be critical and still be accepted: the three above are checked; extended key
 * usage and the key identifiers restrict nothing this identity is used for. Name constraints are not
 * processed, so a critical one makes the certificate unusable rather than silently ignored.
 */
const UNDERSTOOD = new Set([BASIC_CONSTRAINTS, KEY_USAGE, SUBJECT_ALT_NAME, '2.5.29.37', '2.5.29.14', '2.5.29.35']);

const decodeOid = (content: Buffer): string | undefined => {
  if (content.length === 0 || (content[content.length - 1] as number) & 0x80) return undefined;
  const arcs: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if (!Number.isSafeInteger(value)) return undefined;
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = arcs[0] as number;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
};

const UTC = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/** RFC 5280 §4.1.2.5: UTCTime years 50–99 are 19xx; both forms are UTC to the second. */
const decodeTime = (tag: number, content: Buffer): Date | undefined => {
  const match = (tag === UTC_TIME ? UTC : tag === GENERALIZED_TIME ? GENERALIZED : undefined)?.exec(content.toString('latin1'));
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const fullYear = tag === UTC_TIME ? (year < 50 ? 2000 + year : 1900 + year) : year;
  const time = new Date(Date.UTC(fullYear, month - 1, day, hour, minute, second));
  // Refuse dates that Date.UTC would roll over (month 13, February 30…).
  if (time.getUTCMonth() !== month - 1 || time.getUTCDate() !== day || time.getUTCHours() !== hour || time.getUTCMinutes() !== minute) return undefined;
  return time;
};

interface Extensions {
  isCa: boolean;
  pathLenConstraint: number | undefined;
  keyUsage: Certificate['keyUsage'];
  uriSans: string[];
  hasUnknownCriticalExtension: boolean;
}

const readBasicConstraints = (value: Buffer, into: Extensions): boolean => {
  const outer = readDerItem(value, 0);
  if (outer?.tag !== SEQUENCE || outer.end !== value.length) return false;
  const fields = readDerChildren(outer.content);
  if (fields === undefined || fields.length > 2) return false;
  let index = 0;
  const cA = fields[0];
  if (cA?.tag === BOOLEAN) {
    if (cA.content.length !== 1) return false;
    into.isCa = cA.content[0] !== 0;
    index += 1;
  }
  const pathLen = fields[index];
  if (pathLen !== undefined) {
    if (pathLen.tag !== INTEGER || pathLen.content.length === 0 || pathLen.content.length > 4 || (pathLen.content[0] as number) & 0x80) return false;
    into.pathLenConstraint = pathLen.content.readUIntBE(0, pathLen.content.length);
    index += 1;
  }
  return index === fields.length;
};

const readKeyUsage = (value: Buffer, into: Extensions): boolean => {
  const bits = readDerItem(value, 0);
  if (bits?.tag !== BIT_STRING || bits.end !== value.length || bits.content.length === 0 || (bits.content[0] as number) > 7) return false;
  const first = bits.content[1] ?? 0;
  into.keyUsage = { digitalSignature: (first & 0x80) !== 0, keyCertSign: (first & 0x04) !== 0, cRLSign: (first & 0x02) !== 0 };
  return true;
};

const readSubjectAltName = (value: Buffer, into: Extensions): boolean => {
  const outer = readDerItem(value, 0);
  if (outer?.tag !== SEQUENCE || outer.end !== value.length) return false;
  const names = readDerChildren(outer.content);
  if (names === undefined) return false;
  for (const name of names) if (name.tag === SAN_URI) into.uriSans.push(name.content.toString('latin1'));
  return true;
};

const noExtensions = (): Extensions => ({ isCa: false, pathLenConstraint: undefined, keyUsage: undefined, uriSans: [], hasUnknownCriticalExtension: false });

const readExtensions = (item: Buffer): Extensions | undefined => {
  const found = noExtensions();
  const wrapper = readDerChildren(item);
  const list = wrapper?.length === 1 && wrapper[0]?.tag === SEQUENCE ? readDerChildren(wrapper[0].content) : undefined;
  if (list === undefined || list.length === 0) return undefined;
  const seen = new Set<string>();
  for (const extension of list) {
    // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    const fields = extension.tag === SEQUENCE ? readDerChildren(extension.content) : undefined;
    const [idField, flagOrValue, valueAfterFlag] = fields ?? [];
    if (fields === undefined || fields.length > 3 || idField?.tag !== OID || flagOrValue === undefined) return undefined;
    const flag = valueAfterFlag === undefined ? undefined : flagOrValue;
    const value = valueAfterFlag ?? flagOrValue;
    if (value.tag !== OCTET_STRING || (flag !== undefined && (flag.tag !== BOOLEAN || flag.content.length !== 1))) return undefined;
    const critical = flag !== undefined && flag.content[0] !== 0;
    const id = decodeOid(idField.content);
    // RFC 5280 §4.2: at most one instance of each extension.
    if (id === undefined || seen.has(id)) return undefined;
    seen.add(id);
    const understood =
      id === BASIC_CONSTRAINTS ? readBasicConstraints(value.content, found)
      : id === KEY_USAGE ? readKeyUsage(value.content, found)
      : id === SUBJECT_ALT_NAME ? readSubjectAltName(value.content, found)
      : true;
    if (!understood) return undefined;
    if (critical && !UNDERSTOOD.has(id)) found.hasUnknownCriticalExtension = true;
  }
  return found;
};

/** Reads one DER certificate; undefined if it is not one, to this reader or to OpenSSL. */
export const readCertificate = (der: Buffer): Certificate | undefined => {
  const outer = readDerItem(der, 0);
  if (outer?.tag !== SEQUENCE || outer.end !== der.length) return undefined;
  const parts = readDerChildren(outer.content);
  const tbs = parts?.length === 3 && parts[0]?.tag === SEQUENCE ? readDerChildren(parts[0].content) : undefined;
  if (tbs === undefined) return undefined;
  // version? serialNumber signature issuer validity subject subjectPublicKeyInfo issuerUID? subjectUID? extensions?
  let index = tbs[0]?.tag === VERSION ? 1 : 0;
  const validity = tbs[index + 3];
  index += 6;
  if (tbs[index]?.tag === ISSUER_UNIQUE_ID) index += 1;
  if (tbs[index]?.tag === SUBJECT_UNIQUE_ID) index += 1;
  const extensionsItem = tbs[index]?.tag === EXTENSIONS ? tbs[index] : undefined;
  if (extensionsItem !== undefined) index += 1;
  if (index !== tbs.length || validity?.tag !== SEQUENCE) return undefined;

  const times = readDerChildren(validity.content);
  const [from, to] = times ?? [];
  const notBefore = times?.length === 2 && from !== undefined ? decodeTime(from.tag, from.content) : undefined;
  const notAfter = to !== undefined ? decodeTime(to.tag, to.content) : undefined;
  const extensions = extensionsItem === undefined ? noExtensions() : readExtensions(extensionsItem.content);
  if (notBefore === undefined || notAfter === undefined || extensions === undefined) return undefined;

  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    return undefined;
  }
  return { der, x509, notBefore, notAfter, ...extensions };
};
