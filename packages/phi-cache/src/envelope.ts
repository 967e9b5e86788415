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

/**
 * Thrown by a DataKeySource when the wrapped key is refused — not made for this patient, or not by
 * this source — as opposed to the source being unavailable (KMS throttling or unreachable).
 */
export class DataKeyRefused extends Error {
  override readonly name = 'DataKeyRefused';
  constructor() {
    super('The wrapped data key was refused: not made for this patient by this key source.');
  }
}

/** What binds a key or an entry to its patient; the same pair a KMS EncryptionContext carries. */
export const patientContext = (patient: PatientIdHmac): Buffer => Buffer.from(`patient_id_hmac=${patient}`, 'utf8');

/** `result`, if `use` finished with the key; a promise means it may still be using a wiped key. */
export const finishedWithKey = <T>(result: T): T => {
  if (typeof (result as { then?: unknown } | null)?.then === 'function') throw new TypeError('A data key must be used synchronously: it may be wiped once use returns.');
  return result;
};

/** Runs `use` with a key that is wiped right after. */
export const useThenWipe = <T>(key: Uint8Array, use: (key: Uint8Array) => T): T => {
  try {
    return finishedWithKey(use(key));
  } finally {
    key.fill(0);
  }
};

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
      const wrapped = gcmSeal(master, patientContext(patient), key);
      return useThenWipe(key, (k) => use(k, wrapped));
    },
    withDataKey: async (wrapped, patient, use) => {
      let key: Buffer;
      try {
        key = gcmOpen(master, patientContext(patient), wrapped);
      } catch {
        throw new DataKeyRefused();
      }
      return useThenWipe(key, use);
    },
  };
};

// Entry layout: magic (4) | expires at (8, ms since the epoch, big-endian) | wrapped key length (2) |
// wrapped key | iv | tag | ciphertext.
const MAGIC = Buffer.from('PHC2', 'ascii');
const HEADER_BYTES = MAGIC.length + 8 + 2;

/** Where an entry belongs: its patient and its slot (the query's HMAC), both bound into the entry. */
export interface EntryAddress {
  readonly patient: PatientIdHmac;
  readonly slot: string;
}

const aadOf = (bound: Uint8Array, address: EntryAddress): Buffer =>
  Buffer.concat([bound, patientContext(address.patient), Buffer.from(`;slot=${address.slot}`, 'utf8')]);

/**
 * An entry for `address`, to be served until `expiresAt` only: the plaintext sealed under a data key,
 * with that key wrapped. The AAD covers the header (expiry included), the wrapped key, the patient and
 * the slot, so none can be changed or the entry moved without it failing to open.
 */
export const sealEntry = (source: DataKeySource, address: EntryAddress, plaintext: Uint8Array, expiresAt: number): Promise<Buffer> =>
  source.withNewDataKey(address.patient, (key, wrapped) => {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header);
    header.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(expiresAt))), MAGIC.length);
    header.writeUInt16BE(wrapped.length, MAGIC.length + 8);
    const bound = Buffer.concat([header, wrapped]);
    return Buffer.concat([bound, gcmSeal(key, aadOf(bound, address), plaintext)]);
  });

/**
 * What opening an entry gave: its plaintext; `expired` (authenticated, but past its expiry);
 * `rejected` (not an intact entry made for this address by this source: a changed byte, another
 * patient or slot, another key); or `key-unavailable` (the key source failed, e.g. KMS throttled).
 */
export type Opened =
  | { readonly _tag: 'Opened'; readonly plaintext: Buffer }
  | { readonly _tag: 'Expired' }
  | { readonly _tag: 'Rejected' }
  | { readonly _tag: 'KeyUnavailable' };

const REJECTED: Opened = { _tag: 'Rejected' };

/**
 * Opens an entry for `address` at `now`. The expiry is trusted only once the entry has authenticated
 * (it is in the AAD), so a changed expiry is a rejection, never a quiet miss.
 */
export const openEntry = async (source: DataKeySource, address: EntryAddress, entry: Uint8Array, now: number): Promise<Opened> => {
  const bytes = Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength);
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return REJECTED;
  const boundEnd = HEADER_BYTES + bytes.readUInt16BE(MAGIC.length + 8);
  if (bytes.length < boundEnd + IV_BYTES + TAG_BYTES) return REJECTED;
  const bound = bytes.subarray(0, boundEnd);
  let plaintext: Buffer | undefined;
  try {
    plaintext = await source.withDataKey(bound.subarray(HEADER_BYTES), address.patient, (key) => {
      try {
        return gcmOpen(key, aadOf(bound, address), bytes.subarray(boundEnd));
      } catch {
        return undefined;
      }
    });
  } catch (error) {
    return error instanceof DataKeyRefused ? REJECTED : { _tag: 'KeyUnavailable' };
  }
  if (plaintext === undefined) return REJECTED;
  return now >= Number(bytes.readBigUInt64BE(MAGIC.length)) ? { _tag: 'Expired' } : { _tag: 'Opened', plaintext };
};
