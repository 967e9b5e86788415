import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { appendToChain, CHAIN_START, type ChainHead, GENESIS_HASH, lineHash, parseChainedLine, verifyChain } from './AuditChain.js';
import { sampleAuditRecord } from './testing/contracts.js';

const chainOf = (n: number): { lines: string[]; heads: ChainHead[] } => {
  const lines: string[] = [];
  const heads: ChainHead[] = [];
  let head = CHAIN_START;
  for (let i = 1; i <= n; i++) {
    const next = appendToChain(head, sampleAuditRecord(i));
    lines.push(next.line);
    heads.push(next.head);
    head = next.head;
  }
  return { lines, heads };
};

describe('the audit hash chain', () => {
  it('numbers records from 1 and links each to the hash of the line before', () => {
    const { lines, heads } = chainOf(3);
    const first = parseChainedLine(lines[0] as string);
    expect(E.isRight(first) && [first.right.seq, first.right.prev_hash]).toStrictEqual([1, GENESIS_HASH]);
    const second = parseChainedLine(lines[1] as string);
    expect(E.isRight(second) && second.right.prev_hash).toBe(lineHash(lines[0] as string));
    expect(verifyChain(lines)).toStrictEqual({ head: heads[2], records: 3 });
  });

  it('names the first bad line and what is wrong', () => {
    const { lines } = chainOf(6);
    const modified = [...lines];
    modified[2] = (modified[2] as string).replace('"success"', '"error"').replace('"error_code":null', '"error_code":"internal_error"').replace('"data_source":"fhir"', '"data_source":null');
    expect(verifyChain(modified).fault).toMatchObject({ line: 4, problem: 'modified' });

    expect(verifyChain([...lines.slice(0, 2), ...lines.slice(3)]).fault).toMatchObject({ line: 3, problem: 'missing', detail: 'seq 3 missing before seq 4' });
    expect(verifyChain([lines[0], lines[2], lines[1], ...lines.slice(3)] as string[]).fault).toMatchObject({ line: 2, problem: 'reordered' });
    expect(verifyChain([...lines.slice(0, 3), lines[1] as string, ...lines.slice(3)]).fault).toMatchObject({ line: 4, problem: 'inserted' });
    expect(verifyChain([...lines.slice(0, 2), '{"timestamp":"torn', ...lines.slice(2)]).fault).toMatchObject({ line: 3, problem: 'malformed' });
  });

  it('needs its anchors to catch a truncated tail, an edited last line, or a self-consistent forgery', () => {
    const { lines, heads } = chainOf(5);
    const anchors = new Map([[5, (heads[4] as ChainHead).hash]]);
    expect(verifyChain(lines, CHAIN_START, anchors).fault).toBeUndefined();
    expect(verifyChain(lines.slice(0, 4)).fault).toBeUndefined(); // without the anchor, undetectable
    expect(verifyChain(lines.slice(0, 4), CHAIN_START, anchors).fault).toMatchObject({ line: 5, problem: 'truncated' });

    const lastEdited = [...lines.slice(0, 4), (lines[4] as string).replace('get_patient', 'search_observations')];
    expect(verifyChain(lastEdited, CHAIN_START, anchors).fault).toMatchObject({ line: 5, problem: 'modified' });

    // Rebuilt from scratch with one record changed: every link holds, only the anchor does not.
    let head = CHAIN_START;
    const forged = [1, 2, 3, 4, 5].map((n) => {
      const next = appendToChain(head, n === 2 ? sampleAuditRecord(n, { status: 'error', error_code: 'patient_not_found' }) : sampleAuditRecord(n));
      head = next.head;
      return next.line;
    });
    expect(verifyChain(forged).fault).toBeUndefined();
    expect(verifyChain(forged, CHAIN_START, anchors).fault).toMatchObject({ line: 5, problem: 'modified' });
  });
});
