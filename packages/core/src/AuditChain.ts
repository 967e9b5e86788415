// A hash chain over one stream of audit records (a file, a log stream). Each line carries its `seq`
// and the previous line's hash; a line's hash covers all its bytes, so editing, dropping, reordering
// or inserting a line breaks the chain. The head is anchored outside the stream by signed checkpoints.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import * as E from 'fp-ts/lib/Either.js';
import { type AuditRecord, checkAuditRecord } from './AuditRecord.js';

/** The `prev_hash` of a stream's first record. */
export const GENESIS_HASH = '0'.repeat(64);

export interface ChainHead {
  /** Of the last record; 0 before the first. */
  readonly seq: number;
  /** SHA-256 of the last record's line (hex); GENESIS_HASH before the first. */
  readonly hash: string;
}

export const CHAIN_START: ChainHead = { seq: 0, hash: GENESIS_HASH };

export type ChainedAuditRecord = AuditRecord & { readonly seq: number; readonly prev_hash: string };

/** SHA-256 of a line's UTF-8 bytes (without its newline), hex. */
export const lineHash = (line: string): string => bytesToHex(sha256(utf8ToBytes(line)));

/** The line that appends `record` after `head`, and the head after it. */
export const appendToChain = (head: ChainHead, record: AuditRecord): { readonly line: string; readonly head: ChainHead } => {
  const chained: ChainedAuditRecord = { ...record, seq: head.seq + 1, prev_hash: head.hash };
  const line = JSON.stringify(chained);
  return { line, head: { seq: chained.seq, hash: lineHash(line) } };
};

/** Parses one chained line, checking the record against the exact audit record codec. */
export const parseChainedLine = (line: string): E.Either<'malformed', ChainedAuditRecord> => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return E.left('malformed');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return E.left('malformed');
  const { seq, prev_hash, ...record } = parsed as Record<string, unknown>;
  if (!Number.isSafeInteger(seq) || (seq as number) < 1 || typeof prev_hash !== 'string' || !/^[0-9a-f]{64}$/.test(prev_hash)) return E.left('malformed');
  const checked = checkAuditRecord(record);
  return E.isLeft(checked) ? E.left('malformed') : E.right({ ...checked.right, seq: seq as number, prev_hash });
};

export type ChainProblem = 'malformed' | 'modified' | 'missing' | 'reordered' | 'inserted' | 'truncated';

export interface ChainFault {
  /** 1-based line number in the lines given. */
  readonly line: number;
  readonly problem: ChainProblem;
  readonly detail: string;
}

export interface ChainVerdict {
  /** The head after the last good line. */
  readonly head: ChainHead;
  readonly records: number;
  readonly fault?: ChainFault;
}

/**
 * Walks `lines` (one stream, in order) from `start`. `anchors` maps a seq to the head hash a signed
 * checkpoint recorded for it: a self-consistent rewrite of the stream fails there.
 */
export const verifyChain = (lines: readonly string[], start: ChainHead = CHAIN_START, anchors: ReadonlyMap<number, string> = new Map()): ChainVerdict => {
  let head = start;
  const seqs = lines.map((line) => {
    const parsed = parseChainedLine(line);
    return E.isRight(parsed) ? parsed.right.seq : undefined;
  });
  for (const [index, line] of lines.entries()) {
    const at = index + 1;
    const fault = (problem: ChainProblem, detail: string): ChainVerdict => ({ head, records: index, fault: { line: at, problem, detail } });
    const parsed = parseChainedLine(line);
    if (E.isLeft(parsed)) return fault('malformed', 'not a chained audit record of the exact shape');
    const { seq, prev_hash } = parsed.right;
    const expected = head.seq + 1;
    if (seq !== expected) {
      const duplicated = seqs.filter((s) => s === seq).length > 1;
      if (seq < expected || duplicated) return fault('inserted', `seq ${seq} does not belong after seq ${head.seq}`);
      if (seqs.slice(index + 1).includes(expected)) return fault('reordered', `seq ${seq} stands where seq ${expected} should`);
      return fault('missing', `seq ${expected}${seq - 1 > expected ? `..${seq - 1}` : ''} missing before seq ${seq}`);
    }
    if (prev_hash !== head.hash) {
      return fault('modified', at === 1 ? 'its prev_hash does not continue the chain' : `line ${at - 1} was changed: its hash is not this line's prev_hash`);
    }
    head = { seq, hash: lineHash(line) };
    const anchored = anchors.get(seq);
    if (anchored !== undefined && anchored !== head.hash) return fault('modified', `differs from the signed checkpoint at seq ${seq}`);
  }
  const lastAnchor = Math.max(0, ...anchors.keys());
  if (lastAnchor > head.seq) {
    return { head, records: lines.length, fault: { line: lines.length + 1, problem: 'truncated', detail: `a signed checkpoint covers seq ${lastAnchor}; the log ends at seq ${head.seq}` } };
  }
  return { head, records: lines.length };
};
