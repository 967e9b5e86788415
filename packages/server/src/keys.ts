// The env/file KeyProvider: the HMAC key is the hex-decoded bytes of AUDIT_HMAC_KEY or of the
// contents of AUDIT_HMAC_KEY_FILE (white space trimmed). A key file must not be readable by others.
import { readFile, stat } from 'node:fs/promises';
import * as E from 'fp-ts/lib/Either.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { type CheckpointSigner, deriveCheckpointSeed, ed25519Signer } from '@hipaa-fhir-mcp/audit-file';
import { type HmacKey, hmacKeyId, type KeyProvider, MIN_HMAC_KEY_BYTES } from '@hipaa-fhir-mcp/core';
import { CACHE_KEY_HOW_TO, CacheMasterKey, type ConfigProblem, HexKey, KEY_HOW_TO, type KeySource } from './config.js';

/** The public name of a key (see `hmacKeyId` in the core). */
export const keyIdOf = (bytes: Uint8Array): string => hmacKeyId(bytes);

const fromHex = (hex: string): HmacKey => {
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  return { id: keyIdOf(bytes), bytes };
};

export const KMS_SDK_MISSING = 'is kms, which needs the AWS SDK KMS client beside the server: npm install @aws-sdk/client-kms';

/** The AWS SDK's KMS client (an optional peer dependency) and the KMS adapter; undefined if not installed. */
type KmsModules = readonly [typeof import('@aws-sdk/client-kms'), typeof import('@hipaa-fhir-mcp/keys-kms')];
export const loadKmsModules = async (): Promise<KmsModules | undefined> => {
  try {
    return await Promise.all([import('@aws-sdk/client-kms'), import('@hipaa-fhir-mcp/keys-kms')]);
  } catch {
    return undefined;
  }
};

/**
 * The key from a KMS ciphertext, with the AWS SDK's standard configuration (AWS_REGION,
 * AWS_ENDPOINT_URL_KMS, the default credential chain). The KMS adapter is loaded only here.
 */
const loadKmsKey = async (ciphertextBase64: string, kmsKeyId: string | undefined, variable: string): Promise<E.Either<ConfigProblem, HmacKey>> => {
  const kms = await loadKmsModules();
  if (kms === undefined) return E.left({ variable: 'KEY_PROVIDER', problem: KMS_SDK_MISSING });
  const [{ KMSClient }, { makeKmsKeyProvider, KmsKeyError }] = kms;
  try {
    const provider = await makeKmsKeyProvider({ kms: new KMSClient({}), ciphertext: Buffer.from(ciphertextBase64, 'base64'), ...(kmsKeyId === undefined ? {} : { kmsKeyId }) });
    return E.right(provider.key);
  } catch (error) {
    if (error instanceof KmsKeyError) return E.left({ variable, problem: error.message });
    return E.left({ variable, problem: `KMS is not reachable or not configured (${(error as Error)?.name ?? 'error'}); set AWS_REGION and credentials.` });
  }
};

/** Reads the key once, at start. */
export const loadHmacKey = async (source: KeySource): Promise<E.Either<ConfigProblem, HmacKey>> => {
  if (source.kind === 'env') return E.right(fromHex(source.hex));
  if (source.kind === 'kms') return loadKmsKey(source.ciphertext, source.kmsKeyId, 'AUDIT_HMAC_KEY_CIPHERTEXT');
  if (source.kind === 'kms-file') {
    const text = await readFile(source.path, 'utf8').catch(() => undefined);
    if (text === undefined) return E.left({ variable: 'AUDIT_HMAC_KEY_CIPHERTEXT_FILE', problem: 'cannot be read.' });
    return loadKmsKey(text.trim(), source.kmsKeyId, 'AUDIT_HMAC_KEY_CIPHERTEXT_FILE');
  }
  const contents = await readPrivateFile(source.path, 'AUDIT_HMAC_KEY_FILE');
  if (E.isLeft(contents)) return contents;
  const decoded = HexKey.decode(contents.right);
  if (E.isLeft(decoded)) {
    return E.left({ variable: 'AUDIT_HMAC_KEY_FILE', problem: `must hold at least ${MIN_HMAC_KEY_BYTES} bytes written as hex. ${KEY_HOW_TO}` });
  }
  return E.right(fromHex(decoded.right));
};

/** A secret file's contents; it must be a regular file that group and others cannot read or write. */
const readPrivateFile = async (path: string, variable: string): Promise<E.Either<ConfigProblem, string>> => {
  try {
    const info = await stat(path);
    if (!info.isFile()) return E.left({ variable, problem: 'is not a regular file.' });
    if ((info.mode & 0o077) !== 0) return E.left({ variable, problem: 'is readable or writable by group or others; run: chmod 600 on it.' });
    return E.right(await readFile(path, 'utf8'));
  } catch {
    return E.left({ variable, problem: 'cannot be read.' });
  }
};

/** The PHI cache's local master key (CACHE_MASTER_KEY or CACHE_MASTER_KEY_FILE), read once at start. */
export const loadCacheMasterKey = async (source: { readonly kind: 'env'; readonly hex: string } | { readonly kind: 'file'; readonly path: string }): Promise<E.Either<ConfigProblem, Uint8Array>> => {
  if (source.kind === 'env') return E.right(Uint8Array.from(Buffer.from(source.hex, 'hex')));
  const contents = await readPrivateFile(source.path, 'CACHE_MASTER_KEY_FILE');
  if (E.isLeft(contents)) return contents;
  const hex = contents.right.trim().toLowerCase();
  if (!CacheMasterKey.is(hex)) return E.left({ variable: 'CACHE_MASTER_KEY_FILE', problem: `must hold exactly 32 bytes written as hex (64 hex digits). ${CACHE_KEY_HOW_TO}` });
  return E.right(Uint8Array.from(Buffer.from(hex, 'hex')));
};

export const staticKeyProvider = (key: HmacKey): KeyProvider => ({ hmacKey: () => TE.right(key) });

/** The Ed25519 signer of audit checkpoints, derived from the audit key (no second secret to manage). */
export const checkpointSignerFor = (key: HmacKey): CheckpointSigner => ed25519Signer(deriveCheckpointSeed(key.bytes));
