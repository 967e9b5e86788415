// The checkpoint file: one signed line per checkpoint, `{seq, head_hash, timestamp, log, public_key,
// signature}`. The signature covers the canonical JSON of `{seq, head_hash, timestamp, log}`.
import { readFile } from 'node:fs/promises';
import { verifyEd25519 } from './checkpointSigner.js';

export interface CheckpointBody {
  readonly seq: number;
  readonly head_hash: string;
  readonly timestamp: string;
  /** The log file's name (not its path), so that a checkpoint cannot be moved to another log. */
  readonly log: string;
}

export interface Checkpoint extends CheckpointBody {
  readonly public_key: string;
  readonly signature: string;
}

export const checkpointMessage = (body: CheckpointBody): Uint8Array =>
  Buffer.from(JSON.stringify({ seq: body.seq, head_hash: body.head_hash, timestamp: body.timestamp, log: body.log }), 'utf8');

export interface ReadCheckpoint {
  readonly line: number;
  readonly checkpoint?: Checkpoint;
  /** Why the line is not a valid checkpoint for the expected signer. */
  readonly problem?: 'malformed' | 'bad-signature' | 'other-signer';
}

/**
 * Reads and checks every checkpoint. `publicKeys` pins the signers (else each line's own key is
 * used). A torn last line — a crash while writing it, with no newline after — is left out.
 */
export const readCheckpoints = async (path: string, publicKeys?: readonly string[]): Promise<ReadCheckpoint[] | undefined> => {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line !== '')
    .map((line, index): ReadCheckpoint => {
      try {
        const c = JSON.parse(line) as Checkpoint;
        const shaped =
          Number.isSafeInteger(c.seq) && /^[0-9a-f]{64}$/.test(c.head_hash) && typeof c.timestamp === 'string' && typeof c.log === 'string' &&
          /^[0-9a-f]{64}$/.test(c.public_key) && typeof c.signature === 'string';
        if (!shaped) return { line: index + 1, problem: 'malformed' };
        if (publicKeys !== undefined && !publicKeys.includes(c.public_key)) return { line: index + 1, checkpoint: c, problem: 'other-signer' };
        if (!verifyEd25519(c.public_key, checkpointMessage(c), Buffer.from(c.signature, 'base64'))) return { line: index + 1, checkpoint: c, problem: 'bad-signature' };
        return { line: index + 1, checkpoint: c };
      } catch {
        return { line: index + 1, problem: 'malformed' };
      }
    });
};
