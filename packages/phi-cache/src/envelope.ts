// Envelope encryption for cached PHI: each entry is AES-256-GCM under a data key that is stored only
// wrapped, and both the wrapped key and the entry are bound to the patient's HMAC, so an entry moved
// to another patient, or any changed byte, fails to open. Opening fails closed: undefined, never data.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { PatientIdHmac } from '@hipaa-fhir-mcp/core';

/** Makes and unwraps data keys, each bound to one patient (the KMS EncryptionContext, or AAD locally). */
export interface DataKeySource {
  /** A fresh 32-byte data key for this patient's entries, with the only form of it that may be stored. */
  readonly generate: (patient: PatientIdHmac) => Promise<{ readonly plaintext: Uint8Array; readonly wrapped: Uint8Array }>;
  /** The data key; rejects if `wrapped` was not made for this patient by this source. */
  readonly unwrap: (wrapped: Uint8Array, patient: PatientIdHmac) => Promise<Uint8Array>;
}

/** What binds a key or an entry to its patient; the same pair a KMS EncryptionContext carries. */
export const patientContext = (patient: PatientIdHmac): Buffer => Buffer.from(`patient_id_hmac=${patient}`, 'utf8');

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

const gcmSeal = (key: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer => {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]);
};

/** Throws on any mismatch (wrong key, wrong AAD, a changed byte). */
const gcmOpen = (key: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Buffer => {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES)).setAAD(aad);
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
};

/**
 * Data keys wrapped locally: AES-256-GCM under a master key (from env or a file), with the patient's
 * HMAC as AAD. For one machine; in production the KMS source keeps the master key inside KMS.
 */
export const localDataKeySource = (masterKey: Uint8Array): DataKeySource => {
  if (masterKey.length !== KEY_BYTES) throw new RangeError(`The cache master key must be ${KEY_BYTES} bytes.`);
  const master = Uint8Array.from(masterKey);
  return {
    generate: async (patient) => {
      const plaintext = randomBytes(KEY_BYTES);
      return { plaintext, wrapped: gcmSeal(master, patientContext(patient), plaintext) };
    },
    unwrap: async (wrapped, patient) => gcmOpen(master, patientContext(patient), wrapped),
  };
};

// Entry layout: magic (4) | wrapped key length (2, big-endian) | wrapped key | iv | tag | ciphertext.
const MAGIC = Buffer.from('PHC1', 'ascii');
const HEADER_BYTES = MAGIC.length + 2;

/** An entry for `patient`: the plaintext sealed under a fresh data key, with that key wrapped. */
export const sealEntry = async (source: DataKeySource, patient: PatientIdHmac, plaintext: Uint8Array): Promise<Buffer> => {
  const dataKey = await source.generate(patient);
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header);
    header.writeUInt16BE(dataKey.wrapped.length, MAGIC.length);
    const bound = Buffer.concat([header, dataKey.wrapped]);
    // The AAD covers the header and the wrapped key too, so neither can be swapped under the body.
    return Buffer.concat([bound, gcmSeal(dataKey.plaintext, Buffer.concat([bound, patientContext(patient)]), plaintext)]);
  } finally {
    dataKey.plaintext.fill(0);
  }
};

/** The entry's plaintext, or undefined if it is not an intact entry made for `patient` by `source`. */
export const openEntry = async (source: DataKeySource, patient: PatientIdHmac, entry: Uint8Array): Promise<Buffer | undefined> => {
  const bytes = Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength);
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const boundEnd = HEADER_BYTES + bytes.readUInt16BE(MAGIC.length);
  if (bytes.length < boundEnd + IV_BYTES + TAG_BYTES) return undefined;
  const bound = bytes.subarray(0, boundEnd);
  let dataKey: Uint8Array | undefined;
  try {
    dataKey = await source.unwrap(bound.subarray(HEADER_BYTES), patient);
    return gcmOpen(dataKey, Buffer.concat([bound, patientContext(patient)]), bytes.subarray(boundEnd));
  } catch {
    return undefined;
  } finally {
    dataKey?.fill(0);
  }
};
