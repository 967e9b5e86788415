// The PhiCache port on disk: each FHIR result sealed under a data key bound to its patient and slot,
// kept in the file store under the slot's HMACs. Whatever goes wrong is a miss plus a fixed warning.
import * as O from 'fp-ts/lib/Option.js';
import type { CacheSlot, PhiCache } from '@hipaa-fhir-mcp/core';
import { type DataKeySource, openEntry, sealEntry } from './envelope.js';
import type { FileCacheStore } from './fileCacheStore.js';

/**
 * What went wrong, as a fixed code (never a value): an entry that is not intact or not this slot's
 * (changed, moved to another patient or slot, another key: it is removed); the key source unavailable
 * (the entry is kept); the store failing to read; or a write failing.
 */
export type PhiCacheWarning = 'entry_rejected' | 'key_unavailable' | 'store_unreadable' | 'entry_not_written';

export interface EncryptedPhiCacheConfig {
  /** See `PhiCache.partition`: the FHIR source and identity the cached results were read with. */
  readonly partition: string;
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
    partition: config.partition,
    read: (slot) => async () => {
      const name = nameOf(slot);
      const entry = await config.store.get(name).catch(() => {
        warn('store_unreadable');
        return undefined;
      });
      if (entry === undefined) return O.none;
      const opened = await openEntry(config.dataKeys, { patient: slot.patient, slot: slot.query }, entry, now());
      switch (opened._tag) {
        case 'Opened':
          return O.some(opened.plaintext.toString('utf8'));
        case 'KeyUnavailable':
          warn('key_unavailable'); // the entry may be fine: keep it for when the key source is back
          return O.none;
        case 'Rejected':
          warn('entry_rejected');
          break;
        case 'Expired':
          break;
      }
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
