// The workload identity from SVID files that spiffe-helper keeps fresh. It replaces files by rename,
// which a watch on the file itself would lose, so the directory is watched, and a poll backs that up.
// Cert and bundle are renamed one after the other: a refusal in between is retried on the next change.
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeHeldIdentity, tell, type WorkloadIdentitySource } from './heldIdentity.js';
import { isTrustDomainName, type SpiffeId } from './spiffeId.js';
import { type SvidProblem, verifyPemSvid } from './verifyX509Svid.js';

export interface SvidFilesConfig {
  /** spiffe-helper's `svid_file_name`: the leaf, then intermediates, PEM. */
  readonly certFile: string;
  /** spiffe-helper's `svid_bundle_file_name`: the trust domain's CA certificates, PEM. */
  readonly bundleFile: string;
  /** A trust domain name such as `example.org`; when set, SVIDs of any other are refused. */
  readonly trustDomain?: string;
  /** How often the files are re-read in case a change was not seen; default 5,000 ms. */
  readonly pollMs?: number;
  readonly now?: () => Date;
  readonly onProblem?: (problem: SvidProblem) => void;
  /** Told when a new SVID replaces the held one (not for the first, which the returned promise stands for). */
  readonly onRotate?: (id: SpiffeId) => void;
}

/** Changes arrive as bursts of events (one rename per file); the files are read once it is over. */
const SETTLE_MS = 50;

interface SvidFiles {
  readonly cert: Buffer;
  readonly bundle: Buffer;
}

const readSvidFiles = async (config: SvidFilesConfig): Promise<SvidFiles | undefined> => {
  try {
    const [cert, bundle] = await Promise.all([readFile(config.certFile), readFile(config.bundleFile)]);
    return { cert, bundle };
  } catch {
    return undefined;
  }
};

/**
 * SVID files kept fresh by spiffe-helper, read and verified at start — rejecting with a fixed
 * PHI-free text naming the problem code if that fails — then watched and re-verified on each change.
 * A refused rotation keeps the previous SVID only while it is still valid, and is told to `onProblem`;
 * so is the held SVID's expiry, once, when the poll finds it.
 */
export const watchSvidFiles = async (config: SvidFilesConfig): Promise<WorkloadIdentitySource> => {
  const pollMs = config.pollMs ?? 5_000;
  if (!Number.isInteger(pollMs) || pollMs < 10 || pollMs > 3_600_000) throw new RangeError('SVID files: pollMs must be an integer from 10 to 3,600,000.');
  if (config.trustDomain !== undefined && !isTrustDomainName(config.trustDomain)) throw new RangeError('SVID files: trustDomain must be a trust domain name such as example.org.');
  const now = config.now ?? (() => new Date());
  const identity = makeHeldIdentity(now);
  const verify = (files: SvidFiles) =>
    verifyPemSvid({ certChainPem: files.cert.toString('utf8'), bundlePem: files.bundle.toString('utf8'), now: now(), trustDomain: config.trustDomain });

  const first = await readSvidFiles(config);
  const firstOutcome = first === undefined ? ({ ok: false, problem: 'unreadable' } as const) : verify(first);
  if (!firstOutcome.ok) throw new Error(`The X.509-SVID files were refused: ${firstOutcome.problem}.`);
  identity.hold(firstOutcome.svid);

  let seen: SvidFiles | undefined = first;
  let lastProblem: SvidProblem | undefined;
  let closed = false;

  const check = async (): Promise<void> => {
    const files = await readSvidFiles(config);
    if (closed) return;
    const unchanged =
      files === undefined || seen === undefined ? files === seen : files.cert.equals(seen.cert) && files.bundle.equals(seen.bundle);
    let toldExpired = false;
    // Unchanged files that were accepted need no new verdict; refused ones are tried again, since
    // a not-yet-valid SVID becomes valid with time.
    if (!(unchanged && lastProblem === undefined)) {
      const outcome = files === undefined ? ({ ok: false, problem: 'unreadable' } as const) : verify(files);
      seen = files;
      if (outcome.ok) {
        lastProblem = undefined;
        if (identity.hold(outcome.svid)) tell(config.onRotate, outcome.svid.spiffeId);
      } else {
        // The same refusal of the same files is told once, not on every poll.
        if (!unchanged || outcome.problem !== lastProblem) {
          tell(config.onProblem, outcome.problem);
          toldExpired = outcome.problem === 'expired';
        }
        lastProblem = outcome.problem;
      }
    }
    if (identity.newlyExpired() && !toldExpired) tell(config.onProblem, 'expired');
  };

  // One check at a time; a change seen during a check asks for one more after it.
  let running: Promise<void> | undefined;
  let again = false;
  const run = (): Promise<void> => {
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await check();
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  let settling: NodeJS.Timeout | undefined;
  const changed = (): void => {
    if (closed || settling !== undefined) return;
    settling = setTimeout(() => {
      settling = undefined;
      void run();
    }, SETTLE_MS);
    settling.unref();
  };

  // Every event in the directories counts: Kubernetes-style volumes swap a symlinked directory, so
  // the event may not name our files. Checking unchanged files costs two small reads.
  const watchers: FSWatcher[] = [];
  for (const directory of new Set([dirname(config.certFile), dirname(config.bundleFile)])) {
    try {
      watchers.push(watch(directory, { persistent: false }, changed).on('error', () => undefined));
    } catch {
      // No watch (inotify limits, an unsupported filesystem): the poll alone keeps the SVID fresh.
    }
  }
  const poll = setInterval(() => void run(), pollMs);
  poll.unref();

  return {
    current: identity.current,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      if (settling !== undefined) clearTimeout(settling);
      for (const watcher of watchers) watcher.close();
      await running;
      identity.release();
    },
  };
};
