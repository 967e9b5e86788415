// In-memory adapters for tests and embedding experiments: a recording audit sink that can be told
// to fail, fixed clock/key/identity, and a FhirRepository scripted per method.
import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { type AuditRecord, CallerIdentity, WorkloadIdentity } from '../AuditRecord.js';
import { type AuditError, auditError, type FhirError, fhirError } from '../errors.js';
import type { HmacKey } from '../PatientIdHmac.js';
import type { AuditSink, CacheSlot, Clock, Deps, FhirRepository, IdentityProvider, KeyProvider, PhiCache } from '../ports.js';

export interface MemoryAuditSink extends AuditSink {
  /** Records acknowledged so far, in order. */
  readonly records: readonly AuditRecord[];
  /** While set, `append` fails with this error and stores nothing. */
  failWith: AuditError | undefined;
  /** After this, `append` fails as Closed. */
  readonly close: () => Promise<void>;
}

export const makeMemoryAuditSink = (): MemoryAuditSink => {
  const records: AuditRecord[] = [];
  const sink: MemoryAuditSink = {
    records,
    failWith: undefined,
    close: async () => {
      sink.failWith = auditError('Closed');
    },
    append: (record) => async () => {
      if (sink.failWith !== undefined) return E.left(sink.failWith);
      records.push(record);
      return E.right(undefined);
    },
  };
  return sink;
};

export interface MemoryPhiCache extends PhiCache {
  /** Entries by `<patient>.<query>`, as written (plaintext: for tests only). */
  readonly entries: Map<string, string>;
  /** Every read and write, by slot name, in order. */
  readonly log: string[];
}

/** A PhiCache in memory, unencrypted: for core tests, never for PHI. Entries live `ttlMs` (default: forever). */
export const makeMemoryPhiCache = (options: { readonly ttlMs?: number; readonly now?: () => number; readonly partition?: string } = {}): MemoryPhiCache => {
  const entries = new Map<string, string>();
  const writtenAt = new Map<string, number>();
  const log: string[] = [];
  const now = options.now ?? Date.now;
  const nameOf = (slot: CacheSlot): string => `${slot.patient}.${slot.query}`;
  return {
    partition: options.partition ?? 'memory',
    entries,
    log,
    read: (slot) => async () => {
      const name = nameOf(slot);
      log.push(`read ${name}`);
      if (options.ttlMs !== undefined && now() - (writtenAt.get(name) ?? 0) >= options.ttlMs) return O.none;
      return O.fromNullable(entries.get(name));
    },
    write: (slot, json) => async () => {
      const name = nameOf(slot);
      log.push(`write ${name}`);
      entries.set(name, json);
      writtenAt.set(name, now());
    },
  };
};

export const fixedClock = (iso = '2026-01-02T03:04:05.678Z'): Clock => ({ now: () => new Date(iso) });

/** A deterministic 32-byte key: bytes 0x00..0x1f. For tests only. */
export const testHmacKey: HmacKey = { id: 'test-key', bytes: Uint8Array.from({ length: 32 }, (_, i) => i) };

export const staticKeyProvider = (key: HmacKey = testHmacKey): KeyProvider => ({ hmacKey: () => TE.right(key) });

/** Names every call's caller `name`; the workload is `workload` (default: none). */
export const staticIdentity = (name = 'test-caller', workload: string | null = null): IdentityProvider => {
  const caller = CallerIdentity.decode(name);
  const spiffeId = workload === null ? E.right(null) : WorkloadIdentity.decode(workload);
  if (E.isLeft(caller) || E.isLeft(spiffeId)) throw new TypeError('staticIdentity: not a valid caller or workload identity');
  return { identify: () => TE.right({ caller: caller.right, workload: spiffeId.right }) };
};

const notScripted = (): TE.TaskEither<FhirError, never> => TE.left(fhirError('Unavailable'));

/** A FhirRepository whose methods are given by the test; unscripted methods fail as Unavailable. */
export const scriptedFhirRepository = (methods: Partial<FhirRepository>): FhirRepository => ({
  readPatient: notScripted,
  searchObservations: notScripted,
  searchActiveMedicationRequests: notScripted,
  ...methods,
});

/** Deps for core tests: scripted FHIR, a memory sink (set `failWith` to fail it), fixed everything else. */
export const testDeps = (
  overrides: Partial<Omit<Deps, 'audit'>> = {},
  audit: MemoryAuditSink = makeMemoryAuditSink(),
): Deps & { readonly audit: MemoryAuditSink } => ({
  fhir: scriptedFhirRepository({}),
  identity: staticIdentity(),
  keys: staticKeyProvider(),
  clock: fixedClock(),
  limits: { maxObservations: 100, patientOutput: 'minimum-necessary' },
  reportDefect: () => undefined,
  ...overrides,
  audit,
});
