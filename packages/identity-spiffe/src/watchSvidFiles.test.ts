// watchSvidFiles follows spiffe-helper's files: it loads them, takes rotations made by atomic rename,
// refuses a bad rotation while the previous SVID lasts, stops counting an expired SVID at once, and
// will not start on files it cannot verify.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Issued, makeLeaf, makeRootCa, pemOf } from '../test/pki.js';
import type { WorkloadIdentitySource } from './heldIdentity.js';
import type { SpiffeId } from './spiffeId.js';
import type { SvidProblem } from './verifyX509Svid.js';
import { watchSvidFiles } from './watchSvidFiles.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const MINUTE = 60_000;
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs);
const ID = 'spiffe://example.org/hipaa-fhir-mcp';
const ID_2 = 'spiffe://example.org/hipaa-fhir-mcp/blue';
/** Long enough that only the directory watch, not the poll, can see a change within a test. */
const NO_POLL = 600_000;

/** Waits until `condition` holds, checking every 10 ms, for at most 5 s. */
const waitFor = async (condition: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

let root: Issued;
let leaf: Issued;
beforeAll(async () => {
  root = await makeRootCa(NOW, 'example.org', { notAfter: at(24 * 60 * MINUTE) });
  leaf = await makeLeaf(root, NOW, ID, { notAfter: at(30 * MINUTE) });
});

let directory: string;
let certFile: string;
let bundleFile: string;
let clock: Date;
let problems: SvidProblem[];
let rotations: SpiffeId[];
const sources: WorkloadIdentitySource[] = [];

/** Replaces a file as spiffe-helper does: write a temporary file, then rename it over the old one. */
const replace = async (file: string, content: string): Promise<void> => {
  const temporary = `${file}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, content);
  await rename(temporary, file);
};
const start = async (options: { pollMs?: number; trustDomain?: string; onRotate?: (id: SpiffeId) => void } = {}) => {
  const source = await watchSvidFiles({
    certFile,
    bundleFile,
    pollMs: options.pollMs ?? NO_POLL,
    now: () => clock,
    onProblem: (problem) => problems.push(problem),
    onRotate: options.onRotate ?? ((id) => rotations.push(id)),
    ...(options.trustDomain === undefined ? {} : { trustDomain: options.trustDomain }),
  });
  sources.push(source);
  return source;
};

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'svid-files-'));
  certFile = join(directory, 'svid.pem');
  bundleFile = join(directory, 'svid_bundle.pem');
  clock = NOW;
  problems = [];
  rotations = [];
  await replace(certFile, leaf.pem);
  await replace(bundleFile, root.pem);
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.close()));
  await rm(directory, { recursive: true, force: true });
});

describe('watchSvidFiles', () => {
  it('loads the SVID at start', async () => {
    const source = await start({ trustDomain: 'example.org' });
    expect(source.current()).toBe(ID);
    expect([problems, rotations]).toStrictEqual([[], []]);
  });

  it('takes a rotation renamed into place, and tells onRotate', async () => {
    const source = await start();
    const rotated = await makeLeaf(root, NOW, ID_2);
    await replace(certFile, rotated.pem);
    await waitFor(() => source.current() === ID_2, 'the rotated SVID');
    expect(rotations).toStrictEqual([ID_2]);
    // A new certificate for the same ID is a rotation too.
    await replace(certFile, (await makeLeaf(root, NOW, ID_2)).pem);
    await waitFor(() => rotations.length === 2, 'the second rotation');
    expect([source.current(), rotations, problems]).toStrictEqual([ID_2, [ID_2, ID_2], []]);
  });

  it('settles on a CA rotation whose cert and bundle are renamed one after the other', async () => {
    const source = await start();
    const newRoot = await makeRootCa(NOW);
    const newLeaf = await makeLeaf(newRoot, NOW, ID_2);
    await replace(certFile, newLeaf.pem);
    await replace(bundleFile, pemOf(root, newRoot));
    await waitFor(() => source.current() === ID_2, 'the SVID of the new CA');
    expect(rotations).toStrictEqual([ID_2]);
  });

  it('refuses a bad rotation, keeps the previous SVID while it is valid, then has none', async () => {
    const source = await start({ pollMs: 20 });
    const stranger = await makeRootCa(NOW);
    await replace(certFile, (await makeLeaf(stranger, NOW, ID_2, { notAfter: at(24 * 60 * MINUTE) })).pem);
    await waitFor(() => problems.length > 0, 'the refusal');
    expect(problems).toStrictEqual(['untrusted-chain']);
    expect(source.current()).toBe(ID);
    clock = at(30 * MINUTE + 1_000);
    expect(source.current()).toBeUndefined();
    // The poll finds the held SVID expired and says so once; the unchanged refusal is not repeated.
    await waitFor(() => problems.length > 1, 'the expiry report');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([problems, rotations]).toStrictEqual([['untrusted-chain', 'expired'], []]);
  });

  it('tells once of a file it cannot read, and keeps the SVID meanwhile', async () => {
    const source = await start({ pollMs: 20 });
    await rm(bundleFile);
    await waitFor(() => problems.length > 0, 'the refusal');
    await new Promise((resolve) => setTimeout(resolve, 100)); // several polls
    expect([problems, source.current()]).toStrictEqual([['unreadable'], ID]);
    await replace(bundleFile, root.pem);
    await replace(certFile, (await makeLeaf(root, NOW, ID_2)).pem);
    await waitFor(() => source.current() === ID_2, 'the SVID after the files return');
  });

  it('recovers when a refused rotation is followed by a good one', async () => {
    const source = await start({ trustDomain: 'example.org' });
    await replace(certFile, (await makeLeaf(root, NOW, 'spiffe://other.org/intruder')).pem);
    await waitFor(() => problems.length > 0, 'the refusal');
    const good = await makeLeaf(root, NOW, ID_2);
    await replace(certFile, good.pem);
    await waitFor(() => source.current() === ID_2, 'the good rotation');
    expect([problems, rotations]).toStrictEqual([['wrong-trust-domain'], [ID_2]]);
  });

  it('stops counting an expired SVID at once, and counts a fresh one when it arrives', async () => {
    const source = await start({ pollMs: 20 });
    clock = at(30 * MINUTE);
    expect(source.current()).toBe(ID);
    clock = at(30 * MINUTE + 1_000);
    expect(source.current()).toBeUndefined();
    const fresh = await makeLeaf(root, at(60 * MINUTE), ID);
    await replace(certFile, fresh.pem);
    await waitFor(() => source.current() === ID, 'the fresh SVID');
    expect(rotations).toStrictEqual([ID]);
  });

  it('will not start on files it cannot read or verify, with a fixed message', async () => {
    const refusal = (problem: string) => new Error(`The X.509-SVID files were refused: ${problem}.`);
    await expect(watchSvidFiles({ certFile: join(directory, 'missing.pem'), bundleFile })).rejects.toThrow(refusal('unreadable'));
    await expect(watchSvidFiles({ certFile, bundleFile, trustDomain: 'other.org', now: () => clock })).rejects.toThrow(refusal('wrong-trust-domain'));
    await expect(watchSvidFiles({ certFile, bundleFile, now: () => at(31 * MINUTE) })).rejects.toThrow(refusal('expired'));
    await replace(bundleFile, (await makeRootCa(NOW)).pem);
    await expect(watchSvidFiles({ certFile, bundleFile, now: () => clock })).rejects.toThrow(refusal('untrusted-chain'));
    await expect(watchSvidFiles({ certFile, bundleFile, pollMs: 0 })).rejects.toThrow(RangeError);
    await expect(watchSvidFiles({ certFile, bundleFile, trustDomain: 'Example.org' })).rejects.toThrow(RangeError);
  });

  it('keeps going when a listener throws, and has no identity after close', async () => {
    let told = 0;
    const source = await start({
      onRotate: () => {
        told += 1;
        throw new Error('listener defect');
      },
    });
    await replace(certFile, (await makeLeaf(root, NOW, ID_2)).pem);
    await waitFor(() => told === 1, 'the first rotation');
    await replace(certFile, (await makeLeaf(root, NOW, ID)).pem);
    await waitFor(() => told === 2 && source.current() === ID, 'the second rotation');
    await source.close();
    expect(source.current()).toBeUndefined();
  });
});
