// Data-key reuse, as the AWS Encryption SDK's caching does: a plaintext data key serves one patient's
// entries for a bounded time and number of uses, in memory only, so that KMS is not called per entry.
import type { PatientIdHmac } from '@hipaa-fhir-mcp/core';
import { type DataKeySource, finishedWithKey } from './envelope.js';

export interface DataKeyReuseLimits {
  /** How long a plaintext data key stays in memory; at least 1,000 ms. */
  readonly maxAgeMs: number;
  /** How many entries one data key may seal or open before a fresh one is fetched. */
  readonly maxUses: number;
  /** Keys held at most (the oldest go first). Default 1,000. */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

interface HeldKey {
  readonly key: Uint8Array;
  readonly wrapped: Uint8Array;
  readonly since: number;
  uses: number;
}

/**
 * `source` with its data keys reused within `limits`. Held keys past their age are wiped by a timer
 * as well as on use, so an idle server holds none for long; `forget` wipes them all and ends reuse.
 */
export const reusingDataKeys = (source: DataKeySource, limits: DataKeyReuseLimits): DataKeySource & { readonly forget: () => void } => {
  // Bounded above too: random 96-bit IVs stay within NIST's collision bound for 2^32 uses of one key.
  const within = (value: number | undefined, low: number, high: number) => value === undefined || (Number.isInteger(value) && value >= low && value <= high);
  if (!within(limits.maxAgeMs, 1_000, 86_400_000) || !within(limits.maxUses, 1, 2 ** 32) || !within(limits.maxKeys, 1, 1_000_000)) {
    throw new RangeError('Data-key reuse needs maxAgeMs from 1,000 to 86,400,000, maxUses from 1 to 2^32, maxKeys from 1 to 1,000,000 (integers).');
  }
  const now = limits.now ?? Date.now;
  const maxKeys = limits.maxKeys ?? 1_000;
  // Keyed by patient (for sealing) and by patient + wrapped key (for opening): never across patients.
  const held = new Map<string, HeldKey>();
  let crowdedOut = 0; // keys removed to stay within maxKeys
  let forgotten = false;

  const drop = (name: string): void => {
    held.get(name)?.key.fill(0);
    held.delete(name);
  };
  const tooOld = (entry: HeldKey): boolean => now() - entry.since >= limits.maxAgeMs;
  // The map is in the order keys were held, so the expired ones are at its front: wipe them all.
  const wipeExpired = (): void => {
    for (const [oldest, entry] of held) {
      if (!tooOld(entry)) break;
      drop(oldest);
    }
  };
  // Checked every tenth of the age bound (at most 10 s), so an idle key outlives it by little.
  const timer = setInterval(wipeExpired, Math.min(limits.maxAgeMs / 10, 10_000));
  timer.unref();
  const usable = (name: string): HeldKey | undefined => {
    wipeExpired();
    const entry = held.get(name);
    if (entry !== undefined && entry.uses >= limits.maxUses) drop(name);
    return held.get(name);
  };
  const hold = (name: string, key: Uint8Array, wrapped: Uint8Array): void => {
    if (forgotten) return; // a fetch that finished after `forget`: its key is wiped by the source
    drop(name);
    while (held.size >= maxKeys) {
      drop(held.keys().next().value as string);
      crowdedOut += 1;
    }
    held.set(name, { key: Uint8Array.from(key), wrapped: Uint8Array.from(wrapped), since: now(), uses: 0 });
  };
  // One fetch per name at a time; concurrent callers wait for it instead of each asking the source.
  const inflight = new Map<string, Promise<unknown>>();
  const fetchOnce = (name: string, fetch: () => Promise<unknown>): Promise<unknown> => {
    const running = inflight.get(name) ?? fetch().finally(() => inflight.delete(name));
    inflight.set(name, running);
    return running;
  };
  // Look up and use with no await in between, so a key is never wiped while it is being used.
  const withHeld = async <T>(name: string, fetch: () => Promise<unknown>, use: (entry: HeldKey) => T): Promise<T> => {
    // Each fetch adds uses that some caller spends, so waiting again makes progress; a key evicted
    // before it could be used at all (other names' keys crowding it out) fails the call instead.
    for (let evicted = 0; ; ) {
      if (forgotten) throw new Error('Data-key reuse has ended.');
      const entry = usable(name);
      if (entry !== undefined) {
        entry.uses += 1;
        return finishedWithKey(use(entry));
      }
      const crowdedBefore = crowdedOut;
      await fetchOnce(name, fetch);
      if (!held.has(name) && crowdedOut > crowdedBefore && ++evicted >= 2) throw new Error('A data key could not be held for use.');
    }
  };

  return {
    withNewDataKey: (patient: PatientIdHmac, use) => {
      const name = `seal:${patient}`;
      return withHeld(name, () => source.withNewDataKey(patient, (key, wrapped) => hold(name, key, wrapped)), (entry) => use(entry.key, entry.wrapped));
    },
    withDataKey: (wrapped, patient, use) => {
      // The key this server sealed with is already held: opening its own entries needs no unwrap.
      const sealing = usable(`seal:${patient}`);
      if (sealing !== undefined && Buffer.from(sealing.wrapped).equals(Buffer.from(wrapped))) {
        sealing.uses += 1;
        // Used now, with no await after the lookup: the key cannot be wiped in between.
        try {
          return Promise.resolve(finishedWithKey(use(sealing.key)));
        } catch (error) {
          return Promise.reject(error);
        }
      }
      const name = `open:${patient}:${Buffer.from(wrapped).toString('base64')}`;
      return withHeld(name, () => source.withDataKey(wrapped, patient, (key) => hold(name, key, wrapped)), (entry) => use(entry.key));
    },
    // Held keys are also wiped on the next call after they expire; `forget` wipes them at once.
    forget: () => {
      forgotten = true;
      clearInterval(timer);
      for (const name of [...held.keys()]) drop(name);
    },
  };
};
