// The env/file KeyProvider: the HMAC key is the hex-decoded bytes of AUDIT_HMAC_KEY or of the
// contents of AUDIT_HMAC_KEY_FILE (white space trimmed). A key file must not be readable by others.
import { readFile, stat } from 'node:fs/promises';
import * as E from 'fp-ts/lib/Either.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { type CheckpointSigner, deriveCheckpointSeed, ed25519Signer } from '@hipaa-fhir-mcp/audit-file';
import { type HmacKey, hmacKeyId, type KeyProvider, MIN_HMAC_KEY_BYTES } from '@hipaa-fhir-mcp/core';
import { type ConfigProblem, HexKey, KEY_HOW_TO, type KeySource } from './config.js';

/** The public name of a key (see `hmacKeyId` in the core). */
export const keyIdOf = (bytes: Uint8Array): string => hmacKeyId(bytes);

const fromHex = (hex: string): HmacKey => {
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  return { id: keyIdOf(bytes), bytes };
};

/** Reads the key once, at start. */
export const loadHmacKey = async (source: KeySource): Promise<E.Either<ConfigProblem, HmacKey>> => {
  if (source.kind === 'env') return E.right(fromHex(source.hex));
  const variable = 'AUDIT_HMAC_KEY_FILE';
  try {
    const info = await stat(source.path);
    if (!info.isFile()) return E.left({ variable, problem: 'is not a regular file.' });
    if ((info.mode & 0o077) !== 0) {
      return E.left({ variable, problem: 'is readable or writable by group or others; run: chmod 600 on it.' });
    }
    const decoded = HexKey.decode(await readFile(source.path, 'utf8'));
    if (E.isLeft(decoded)) {
      return E.left({ variable, problem: `must hold at least ${MIN_HMAC_KEY_BYTES} bytes written as hex. ${KEY_HOW_TO}` });
    }
    return E.right(fromHex(decoded.right));
  } catch {
    return E.left({ variable, problem: 'cannot be read.' });
  }
};

export const staticKeyProvider = (key: HmacKey): KeyProvider => ({ hmacKey: () => TE.right(key) });

/** The Ed25519 signer of audit checkpoints, derived from the audit key (no second secret to manage). */
export const checkpointSignerFor = (key: HmacKey): CheckpointSigner => ed25519Signer(deriveCheckpointSeed(key.bytes));
