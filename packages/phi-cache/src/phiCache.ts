// The PhiCache port on disk: each FHIR result sealed under a data key bound to its patient and slot,
// kept in the file store under the slot's HMACs. Whatever goes wrong is a miss plus a fixed warning.
import * as O from 'fp-ts/lib/Option.js';
import type { CacheSlot, PhiCache } from '@hipaa-fhir-mcp/core';
import { type DataKeySource, entryExpired, openEntry, sealEntry } from './envelope.js';
import type { FileCacheStore } from './fileCacheStore.js';

/**
 * What went wrong, as a fixed code (never a value): an entry that would not open (changed, moved to
 * another patient or slot, or its key could not be unwrapped), the store failing, or a write failing.
 */
export type PhiCacheWarning = 'entry_rejected' | 'store_unreadable' | 'entry_not_written';

export interface EncryptedPhiCacheConfig {
  readonly store: FileCacheStore;
  readonly dataKeys: DataKeySource;
  /** How long an entry may be served; the store's TTL should be the same. */
  readonly ttlMs: number;
  readonly warn: (warning: PhiCacheWarning) => void;
  readonly now?: () => number;
}

const nameOf = (slot: CacheSlot): string => `${slot.patient}.${slot.query}`;

export const makeEncryptedPhiCache = (config: EncryptedPhiCacheConfig): PhiCache => {
  const now = config.now ?? Date.now;
  const warn = (warning: PhiCacheWarning): void => {
    try {
      config.warn(warning);
    } catch {
      // A broken warning sink must not turn a miss into a failed call.
    }
  };
  return {
    read: (slot) => async () => {
      const name = nameOf(slot);
      const entry = await config.store.get(name).catch(() => {
        warn('store_unreadable');
        return undefined;
      });
      if (entry === undefined) return O.none;
      const at = now();
      const plaintext = await openEntry(config.dataKeys, { patient: slot.patient, slot: slot.query }, entry, at);
      if (plaintext !== undefined) return O.some(plaintext.toString('utf8'));
      // An expired entry is an ordinary miss; anything else that will not open is suspect: drop it.
      if (!entryExpired(entry, at)) warn('entry_rejected');
      await config.store.remove(name).catch(() => undefined);
      return O.none;
    },
    write: (slot, json) => async () => {
      try {
        const entry = await sealEntry(config.dataKeys, { patient: slot.patient, slot: slot.query }, Buffer.from(json, 'utf8'), now() + config.ttlMs);
        await config.store.put(nameOf(slot), entry);
      } catch {
        warn('entry_not_written');
      }
    },
  };
};
