// Contract suites: every adapter of a port runs the same cases, so the core may rely on them.
// Call inside a vitest test file: `fhirRepositoryContract('fhir-files', async (bundles) => …)`.
import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord, IsoTimestamp, KeyId, RequestId } from '../AuditRecord.js';
import { fhirError } from '../errors.js';
import { LOINC_SYSTEM, type LoincCode, normaliseLoincCode } from '../LoincCode.js';
import { PatientId } from '../PatientId.js';
import { hmacPatientId } from '../PatientIdHmac.js';
import type { AuditSink, CacheSlot, FhirRepository, PhiCache } from '../ports.js';
import { hmacCacheQuery } from '../readThrough.js';
import {
  A_ACTIVE_MEDICATION,
  A_ACTIVE_REQUESTS,
  A_HEART_RATE_NEWEST_FIRST,
  BODY_HEIGHT,
  CONTRACT_PATIENT_A,
  CONTRACT_PATIENT_B,
  CONTRACT_PATIENT_EMPTY,
  contractBundles,
  HEART_RATE,
} from './contractDataset.js';
import { testHmacKey } from './memoryAdapters.js';

export interface Closeable {
  readonly close?: () => Promise<void>;
}

const patientId = (raw: string): PatientId => {
  const id = PatientId.fromString(raw);
  if (id === undefined) throw new TypeError('contract: bad fixture id');
  return id;
};

const loinc = (code: string): LoincCode => {
  const token = normaliseLoincCode(code);
  if (token === undefined) throw new TypeError('contract: bad fixture code');
  return token;
};

const rightOf = <A>(result: E.Either<unknown, A>): A => {
  if (E.isLeft(result)) throw new Error(`expected Right, got Left ${JSON.stringify(result.left)}`);
  return result.right;
};

const subjectIs = (resource: { subject?: fhir4.Reference | undefined }, id: string): boolean =>
  resource.subject?.reference === `Patient/${id}` || (resource.subject?.reference ?? '').endsWith(`/Patient/${id}`);

/** The FhirRepository contract, against `contractBundles()` loaded by `setup`. */
export const fhirRepositoryContract = (
  name: string,
  setup: (bundles: readonly fhir4.Bundle[]) => Promise<{ readonly repository: FhirRepository } & Closeable>,
): void => {
  describe(`FhirRepository contract: ${name}`, () => {
    let repository: FhirRepository;
    let close: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const made = await setup(contractBundles());
      repository = made.repository;
      close = made.close;
    });
    afterAll(async () => close?.());

    it('reads a Patient by id', async () => {
      const patient = rightOf(await repository.readPatient(patientId(CONTRACT_PATIENT_A))());
      expect(patient.resourceType).toBe('Patient');
      expect(patient.id).toBe(CONTRACT_PATIENT_A);
      expect(patient.name?.[0]?.family).toBe('Alpha');
    });

    it('reads ids that use the dot and hyphen of the FHIR id grammar', async () => {
      const patient = rightOf(await repository.readPatient(patientId(CONTRACT_PATIENT_B))());
      expect(patient.id).toBe(CONTRACT_PATIENT_B);
    });

    it('answers NotFound for an unknown Patient', async () => {
      expect(await repository.readPatient(patientId('no-such-patient'))()).toStrictEqual(
        E.left(fhirError('NotFound')),
      );
    });

    it('finds every Observation of a code for the patient, newest first, and no other', async () => {
      const result = rightOf(
        await repository.searchObservations({ patientId: patientId(CONTRACT_PATIENT_A), code: loinc(HEART_RATE), limit: 100 })(),
      );
      expect(result.observations.map((o) => o.id)).toStrictEqual([...A_HEART_RATE_NEWEST_FIRST]);
      expect(result.total).toBe(A_HEART_RATE_NEWEST_FIRST.length);
      expect(result.truncated).toBe(false);
      for (const observation of result.observations) expect(subjectIs(observation, CONTRACT_PATIENT_A)).toBe(true);
    });

    it('accepts the bare code and the system|code token alike', async () => {
      const result = rightOf(
        await repository.searchObservations({
          patientId: patientId(CONTRACT_PATIENT_A),
          code: loinc(`${LOINC_SYSTEM}|${BODY_HEIGHT}`),
          limit: 100,
        })(),
      );
      expect(result.observations.map((o) => o.id)).toStrictEqual(['a-height']);
    });

    it('stops at the limit, keeping the newest, and says it truncated', async () => {
      const result = rightOf(
        await repository.searchObservations({ patientId: patientId(CONTRACT_PATIENT_A), code: loinc(HEART_RATE), limit: 2 })(),
      );
      expect(result.observations.map((o) => o.id)).toStrictEqual(A_HEART_RATE_NEWEST_FIRST.slice(0, 2));
      expect(result.truncated).toBe(true);
      expect([A_HEART_RATE_NEWEST_FIRST.length, null]).toContain(result.total);
    });

    it("keeps patients apart: B's search returns only B's Observations", async () => {
      const result = rightOf(
        await repository.searchObservations({ patientId: patientId(CONTRACT_PATIENT_B), code: loinc(HEART_RATE), limit: 100 })(),
      );
      expect(result.observations.map((o) => o.id)).toStrictEqual(['b-hr-2', 'b-hr-1']);
    });

    it('returns an empty result for a patient without matches', async () => {
      const result = rightOf(
        await repository.searchObservations({ patientId: patientId(CONTRACT_PATIENT_EMPTY), code: loinc(HEART_RATE), limit: 100 })(),
      );
      expect(result).toStrictEqual({ observations: [], total: 0, truncated: false });
    });

    it('lists only active MedicationRequests, with the Medications they reference', async () => {
      const list = rightOf(await repository.searchActiveMedicationRequests(patientId(CONTRACT_PATIENT_A))());
      expect(list.medicationRequests.map((r) => r.id).sort()).toStrictEqual([...A_ACTIVE_REQUESTS].sort());
      for (const request of list.medicationRequests) {
        expect(request.status).toBe('active');
        expect(subjectIs(request, CONTRACT_PATIENT_A)).toBe(true);
      }
      expect(list.medications.map((m) => m.id)).toStrictEqual([A_ACTIVE_MEDICATION]);
      const withReference = list.medicationRequests.find((r) => r.id === 'a-mr-active-ref');
      expect(withReference?.medicationReference?.reference).toMatch(new RegExp(`(^|/)Medication/${A_ACTIVE_MEDICATION}$`));
    });

    it('returns an empty medication list for a patient with none', async () => {
      expect(rightOf(await repository.searchActiveMedicationRequests(patientId(CONTRACT_PATIENT_EMPTY))())).toStrictEqual({
        medicationRequests: [],
        medications: [],
      });
    });
  });
};

/** A record whose fields are all valid; `n` varies the request id, `data_source` follows `status`. */
export const sampleAuditRecord = (n: number, overrides: Partial<AuditRecord> = {}): AuditRecord => ({
  timestamp: '2026-01-02T03:04:05.678Z' as IsoTimestamp,
  tool: 'get_patient',
  patient_id_hmac: null,
  caller_identity: null,
  request_id: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}` as RequestId,
  status: 'success',
  error_code: null,
  key_id: 'test-key' as KeyId,
  data_source: overrides.status === 'error' || overrides.status === 'denied' ? null : 'fhir',
  workload_identity: null,
  ...overrides,
});

export interface AuditSinkUnderTest {
  readonly sink: AuditSink;
  /** Stops the sink; later appends must fail. */
  readonly close: () => Promise<void>;
  /** Every record the sink holds, as stored (e.g. parsed JSON lines). */
  readonly readBack: () => Promise<readonly unknown[]>;
}

/** The AuditSink contract. `setup` makes a fresh, empty sink each time. */
export const auditSinkContract = (name: string, setup: () => Promise<AuditSinkUnderTest>): void => {
  describe(`AuditSink contract: ${name}`, () => {
    it('stores acknowledged records as they were given, in order', async () => {
      const { sink, readBack, close } = await setup();
      const records = [0, 1, 2].map((n) =>
        sampleAuditRecord(n, n === 1 ? { status: 'error', error_code: 'patient_not_found' } : {}),
      );
      for (const record of records) expect(await sink.append(record)()).toStrictEqual(E.right(undefined));
      expect(await readBack()).toStrictEqual(records);
      await close();
    });

    it('keeps every one of many concurrent appends exactly once', async () => {
      const { sink, readBack, close } = await setup();
      const records = Array.from({ length: 200 }, (_, n) => sampleAuditRecord(n));
      const results = await Promise.all(records.map((record) => sink.append(record)()));
      expect(results.every(E.isRight)).toBe(true);
      const stored = (await readBack()) as AuditRecord[];
      expect(stored).toHaveLength(records.length);
      expect(new Set(stored.map((r) => r.request_id)).size).toBe(records.length);
      await close();
    });

    it('fails, and stores nothing, once closed', async () => {
      const { sink, readBack, close } = await setup();
      await close();
      const result = await sink.append(sampleAuditRecord(7))();
      expect(E.isLeft(result)).toBe(true);
      expect(await readBack()).toStrictEqual([]);
    });
  });
};

export interface PhiCacheUnderTest {
  readonly cache: PhiCache;
  /** Moves the clock on (for adapters with a TTL). */
  readonly advanceMs: (ms: number) => void;
  /** How long an entry lives. */
  readonly ttlMs: number;
  readonly close: () => Promise<void>;
}

const slotFor = (patient: string, ...query: (string | number)[]): CacheSlot => {
  const hmac = hmacPatientId(testHmacKey, patient);
  return { patient: hmac, query: hmacCacheQuery(testHmacKey, 'contract', hmac, ['search_observations', ...query]) };
};

/** The PhiCache contract: what is written reads back in its slot only, and never past its TTL. */
export const phiCacheContract = (name: string, setup: () => Promise<PhiCacheUnderTest>): void => {
  describe(`PhiCache contract: ${name}`, () => {
    it('reads back what was written, and misses a slot never written', async () => {
      const { cache, close } = await setup();
      const json = JSON.stringify({ observations: [{ resourceType: 'Observation', id: 'o1' }], total: 1, truncated: false });
      expect(await cache.read(slotFor('p1', '8867-4'))()).toStrictEqual(O.none);
      await cache.write(slotFor('p1', '8867-4'), json)();
      expect(await cache.read(slotFor('p1', '8867-4'))()).toStrictEqual(O.some(json));
      await close();
    });

    it('keeps slots apart: another patient, another query, the newest write wins', async () => {
      const { cache, close } = await setup();
      await cache.write(slotFor('p1', '8867-4'), '"first"')();
      await cache.write(slotFor('p1', '8867-4'), '"second"')();
      await cache.write(slotFor('p2', '8867-4'), '"other patient"')();
      expect(await cache.read(slotFor('p1', '8867-4'))()).toStrictEqual(O.some('"second"'));
      expect(await cache.read(slotFor('p2', '8867-4'))()).toStrictEqual(O.some('"other patient"'));
      expect(await cache.read(slotFor('p1', '8302-2'))()).toStrictEqual(O.none);
      expect(await cache.read(slotFor('p3', '8867-4'))()).toStrictEqual(O.none);
      await close();
    });

    it('never serves an entry at or past its TTL', async () => {
      const { cache, advanceMs, ttlMs, close } = await setup();
      await cache.write(slotFor('p1', '8867-4'), '"fresh"')();
      advanceMs(ttlMs - 1);
      expect(await cache.read(slotFor('p1', '8867-4'))()).toStrictEqual(O.some('"fresh"'));
      advanceMs(1);
      expect(await cache.read(slotFor('p1', '8867-4'))()).toStrictEqual(O.none);
      await close();
    });
  });
};
