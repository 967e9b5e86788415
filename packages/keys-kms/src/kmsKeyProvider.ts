// KeyProvider whose audit HMAC key exists at rest only as a KMS ciphertext: decrypted once at start
// with KMS Decrypt under a fixed EncryptionContext, kept in memory only. The context is logged in
// plaintext by CloudTrail, so it names the key's purpose and nothing about any patient. The SDK's
// command classes are imported when used, so that a bundle holding this module loads no AWS SDK
// until KMS is actually selected.
import type { KMSClient } from '@aws-sdk/client-kms';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { type HmacKey, hmacKeyId, type KeyProvider, MIN_HMAC_KEY_BYTES } from '@hipaa-fhir-mcp/core';

/** Bound to every audit key ciphertext: a ciphertext made for anything else will not decrypt as one. */
export const AUDIT_KEY_ENCRYPTION_CONTEXT: Readonly<Record<string, string>> = { purpose: 'hipaa-fhir-mcp-audit-hmac' };

/** The key cannot be had from KMS; the message names the AWS error type, never the ciphertext. */
export class KmsKeyError extends Error {
  override readonly name = 'KmsKeyError';
}

const awsErrorName = (error: unknown): string => (error as { name?: unknown })?.name?.toString() ?? 'error';

/** Decrypts the audit key once; the provider then serves it from memory. */
export const makeKmsKeyProvider = async (config: {
  readonly kms: KMSClient;
  readonly ciphertext: Uint8Array;
  /** When set, KMS decrypts only if the ciphertext was made under this key (a swapped file fails). */
  readonly kmsKeyId?: string;
}): Promise<KeyProvider & { readonly key: HmacKey }> => {
  const { DecryptCommand } = await import('@aws-sdk/client-kms');
  let plaintext: Uint8Array | undefined;
  try {
    ({ Plaintext: plaintext } = await config.kms.send(
      new DecryptCommand({ CiphertextBlob: config.ciphertext, EncryptionContext: { ...AUDIT_KEY_ENCRYPTION_CONTEXT }, ...(config.kmsKeyId === undefined ? {} : { KeyId: config.kmsKeyId }) }),
    ));
  } catch (error) {
    const name = awsErrorName(error);
    throw new KmsKeyError(
      name === 'InvalidCiphertextException' || name === 'IncorrectKeyException'
        ? `KMS refused to decrypt the audit key ciphertext (${name}): it was made under another KMS key or for another purpose. Make one with: hipaa-fhir-mcp keys create`
        : `KMS could not decrypt the audit key ciphertext (${name}).`,
    );
  }
  if (plaintext === undefined || plaintext.length < MIN_HMAC_KEY_BYTES) {
    throw new KmsKeyError(`The decrypted audit key is shorter than ${MIN_HMAC_KEY_BYTES} bytes; make a new one with: hipaa-fhir-mcp keys create`);
  }
  const key: HmacKey = { id: hmacKeyId(plaintext), bytes: Uint8Array.from(plaintext) };
  plaintext.fill(0);
  return { key, hmacKey: () => TE.right(key) };
};

/**
 * A new audit key as a KMS ciphertext (base64), from GenerateDataKey under `kmsKeyId`, so that setup
 * needs no hand-rolled crypto. The plaintext copy is wiped before returning.
 */
export const createKmsAuditKey = async (config: { readonly kms: KMSClient; readonly kmsKeyId: string }): Promise<string> => {
  const { GenerateDataKeyCommand } = await import('@aws-sdk/client-kms');
  try {
    const { Plaintext, CiphertextBlob } = await config.kms.send(
      new GenerateDataKeyCommand({ KeyId: config.kmsKeyId, NumberOfBytes: MIN_HMAC_KEY_BYTES, EncryptionContext: { ...AUDIT_KEY_ENCRYPTION_CONTEXT } }),
    );
    Plaintext?.fill(0);
    if (CiphertextBlob === undefined) throw new KmsKeyError('KMS returned no ciphertext.');
    return Buffer.from(CiphertextBlob).toString('base64');
  } catch (error) {
    if (error instanceof KmsKeyError) throw error;
    throw new KmsKeyError(`KMS could not generate an audit key (${awsErrorName(error)}).`);
  }
};
