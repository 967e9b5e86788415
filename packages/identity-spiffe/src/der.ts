// Just enough DER to read X.509 certificates: tag-length-value items, concatenated DER (as the
// Workload API sends chains and bundles) and PEM. Anything unexpected reads as undefined, never a guess.

/** One DER item: its tag byte, its content, and where it ends in the buffer it was read from. */
export interface DerItem {
  readonly tag: number;
  readonly content: Buffer;
  readonly end: number;
}

export const SEQUENCE = 0x30;

/** The DER item at `offset`, or undefined for high tag numbers, indefinite or non-minimal lengths, or truncation. */
export const readDerItem = (bytes: Buffer, offset: number): DerItem | undefined => {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) return undefined;
  let length = first;
  let start = offset + 2;
  if (first >= 0x80) {
    const lengthBytes = first & 0x7f;
    if (lengthBytes === 0 || lengthBytes > 4 || start + lengthBytes > bytes.length) return undefined;
    length = bytes.readUIntBE(start, lengthBytes);
    // DER: the shortest form only.
    if (length < 0x80 || length < 2 ** (8 * (lengthBytes - 1))) return undefined;
    start += lengthBytes;
  }
  const end = start + length;
  if (end > bytes.length) return undefined;
  return { tag, content: bytes.subarray(start, end), end };
};

/** The items that exactly fill `content` (a SEQUENCE's or SET's), or undefined if they do not. */
export const readDerChildren = (content: Buffer): DerItem[] | undefined => {
  const children: DerItem[] = [];
  for (let offset = 0; offset < content.length; ) {
    const child = readDerItem(content, offset);
    if (child === undefined) return undefined;
    children.push(child);
    offset = child.end;
  }
  return children;
};

/**
 * Splits concatenated DER SEQUENCEs (the Workload API's `x509_svid` and `bundle`) into one buffer
 * each; undefined if anything is not a whole SEQUENCE.
 */
export const splitConcatenatedDer = (bytes: Buffer): Buffer[] | undefined => {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const item = readDerItem(bytes, offset);
    if (item === undefined || item.tag !== SEQUENCE) return undefined;
    parts.push(bytes.subarray(offset, item.end));
    offset = item.end;
  }
  return parts;
};

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END ([A-Z0-9 ]+)-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The DER of each CERTIFICATE block in `pem`, in order; other block types and text between blocks
 * are skipped (RFC 7468). Undefined if a block is unterminated, mislabelled or not one DER SEQUENCE.
 */
export const pemCertificates = (pem: string): Buffer[] | undefined => {
  const certificates: Buffer[] = [];
  let blocks = 0;
  for (const [, label, body = '', endLabel] of pem.matchAll(PEM_BLOCK)) {
    blocks += 1;
    if (label !== endLabel) return undefined;
    if (label !== 'CERTIFICATE') continue;
    const base64 = body.replace(/\s+/g, '');
    if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64.test(base64)) return undefined;
    const der = Buffer.from(base64, 'base64');
    const item = readDerItem(der, 0);
    if (item === undefined || item.tag !== SEQUENCE || item.end !== der.length) return undefined;
    certificates.push(der);
  }
  // Every BEGIN must have been part of a whole block.
  if ((pem.match(/-----BEGIN /g) ?? []).length !== blocks) return undefined;
  return certificates;
};
