// Envelope encryption for cached PHI: each entry is AES-256-GCM under a data key that is stored only
// wrapped, and both the wrapped key and the entry are bound to the patient's HMAC, so an entry moved
// to another patient, or any changed byte, fails to open. Opening fails closed: undefined, never data.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { PatientIdHmac } from '@hipaa-fhir-mcp/core';

/**
 * Makes and unwraps data keys, each bound to one patient (the KMS EncryptionContext, or AAD locally).
 * The source owns each plaintext key's lifetime: `use` runs with it and must not keep it.
 */
export interface DataKeySource {
  /** Runs `use` with a data key for this patient's entries and the only form of it that may be stored. */
  readonly withNewDataKey: <T>(patient: PatientIdHmac, use: (key: Uint8Array, wrapped: Uint8Array) => T) => Promise<T>;
  /** Runs `use` with the unwrapped key; rejects if `wrapped` was not made for this patient by this source. */
  readonly withDataKey: <T>(wrapped: Uint8Array, patient: PatientIdHmac, use: (key: Uint8Array) => T) => Promise<T>;
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
    withNewDataKey: async (patient, use) => {
      const key = randomBytes(KEY_BYTES);
      try {
        return use(key, gcmSeal(master, patientContext(patient), key));
      } finally {
        key.fill(0);
      }
    },
    withDataKey: async (wrapped, patient, use) => {
      const key = gcmOpen(master, patientContext(patient), wrapped);
      try {
        return use(key);
      } finally {
        key.fill(0);
      }
    },
  };
};

// Entry layout: magic (4) | wrapped key length (2, big-endian) | wrapped key | iv | tag | ciphertext.
const MAGIC = Buffer.from('PHC1', 'ascii');
const HEADER_BYTES = MAGIC.length + 2;

/** An entry for `patient`: the plaintext sealed under a data key, with that key wrapped. */
export const sealEntry = (source: DataKeySource, patient: PatientIdHmac, plaintext: Uint8Array): Promise<Buffer> =>
  source.withNewDataKey(patient, (key, wrapped) => {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header);
    header.writeUInt16BE(wrapped.length, MAGIC.length);
    const bound = Buffer.concat([header, wrapped]);
    // The AAD covers the header and the wrapped key too, so neither can be swapped under the body.
    return Buffer.concat([bound, gcmSeal(key, Buffer.concat([bound, patientContext(patient)]), plaintext)]);
  });

/** The entry's plaintext, or undefined if it is not an intact entry made for `patient` by `source`. */
export const openEntry = async (source: DataKeySource, patient: PatientIdHmac, entry: Uint8Array): Promise<Buffer | undefined> => {
  const bytes = Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength);
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const boundEnd = HEADER_BYTES + bytes.readUInt16BE(MAGIC.length);
  if (bytes.length < boundEnd + IV_BYTES + TAG_BYTES) return undefined;
  const bound = bytes.subarray(0, boundEnd);
  try {
    return await source.withDataKey(bound.subarray(HEADER_BYTES), patient, (key) => gcmOpen(key, Buffer.concat([bound, patientContext(patient)]), bytes.subarray(boundEnd)));
  } catch {
    return undefined; // a wrong patient, a changed byte, another key, or the key source failing
  }
};
