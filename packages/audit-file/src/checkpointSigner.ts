// Signs the checkpoints that anchor an audit chain's head outside the log file (Ed25519). The key is
// derived from the audit HMAC key, so it needs no second secret; whoever holds it can sign — and forge.
import { createHmac, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';

export interface CheckpointSigner {
  /** Raw 32-byte Ed25519 public key, hex: pin it, and give it to auditors. */
  readonly publicKey: string;
  readonly sign: (message: Uint8Array) => Uint8Array;
}

// PKCS#8 DER wrapping of a raw Ed25519 seed (RFC 8410).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The Ed25519 seed for checkpoints: HMAC-SHA-256(secret, "hipaa-fhir-mcp checkpoint signing key v1"). */
export const deriveCheckpointSeed = (secret: Uint8Array): Uint8Array =>
  createHmac('sha256', secret).update('hipaa-fhir-mcp checkpoint signing key v1').digest();

export const ed25519Signer = (seed: Uint8Array): CheckpointSigner => {
  if (seed.length !== 32) throw new TypeError('An Ed25519 seed is 32 bytes.');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = (createPublicKey(privateKey).export({ format: 'der', type: 'spki' }) as Buffer).subarray(SPKI_ED25519_PREFIX.length);
  return { publicKey: publicKey.toString('hex'), sign: (message) => sign(null, message, privateKey) };
};

/** Checks an Ed25519 signature against a raw hex public key. */
export const verifyEd25519 = (publicKeyHex: string, message: Uint8Array, signature: Uint8Array): boolean => {
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
};
