// The only form in which a patient id may be recorded: HMAC-SHA-256 under the KeyProvider's key,
// as 64 lowercase hex characters. The branded type makes a raw id in an audit record a type error.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import * as t from 'io-ts';

export interface PatientIdHmacBrand {
  readonly PatientIdHmac: unique symbol;
}

export const PatientIdHmac = t.brand(
  t.string,
  (s): s is t.Branded<string, PatientIdHmacBrand> => /^[0-9a-f]{64}$/.test(s),
  'PatientIdHmac',
);
export type PatientIdHmac = t.TypeOf<typeof PatientIdHmac>;

/** Key material for patient-id HMACs. `id` names the key (never derived from secret bytes alone). */
export interface HmacKey {
  readonly id: string;
  readonly bytes: Uint8Array;
}

/** Shortest key accepted: 256 bits, the output size of SHA-256 (RFC 2104 §3). */
export const MIN_HMAC_KEY_BYTES = 32;

/**
 * @phi HMAC-SHA-256(key, UTF-8 bytes of the id exactly as given), lowercase hex.
 * An auditor recomputes it with:
 * `printf '%s' "$ID" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY_HEX`.
 */
export const hmacPatientId = (key: HmacKey, rawPatientId: string): PatientIdHmac =>
  bytesToHex(hmac(sha256, key.bytes, utf8ToBytes(rawPatientId))) as PatientIdHmac;

/**
 * A public name for a key: `k-` and the first 16 hex digits of HMAC-SHA-256(key, "hipaa-fhir-mcp key
 * id"). It tells an auditor which key made a record without revealing anything about the key.
 */
export const hmacKeyId = (bytes: Uint8Array): string =>
  `k-${bytesToHex(hmac(sha256, bytes, utf8ToBytes('hipaa-fhir-mcp key id'))).slice(0, 16)}`;
