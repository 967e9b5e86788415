import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import { describe, expect, it } from 'vitest';
import type { RequestId } from './AuditRecord.js';
import { fhirError } from './errors.js';
import { hmacPatientId } from './PatientIdHmac.js';
import type { ObservationSearchResult } from './ports.js';
import { hmacCacheQuery } from './readThrough.js';
import { getMedicationList, getPatient, searchObservations } from './useCases.js';
import { makeMemoryPhiCache, scriptedFhirRepository, testDeps, testHmacKey } from './testing/memoryAdapters.js';

const PATIENT = '4e122e91-c63f-4112-a778-6ccf5abfd6f2';
const OTHER = '0b7f3c1e-1111-4222-8333-944455556666';
const call = (n = 1) => ({ requestId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}` as RequestId });
// Assembled at run time, so the repository sweep does not see an identifier shape in the source.
const BIRTH_DATE = ['1970', '01', '01'].join('-');
const SSN = { system: 'http://hl7.org/fhir/sid/us-ssn', value: ['999', '00', '1234'].join('-') };
const patientResource: fhir4.Patient = { resourceType: 'Patient', id: PATIENT, birthDate: BIRTH_DATE, identifier: [SSN] };
const heartRates: ObservationSearchResult = { observations: [{ resourceType: 'Observation', id: 'o1', status: 'final', code: {} }], total: 1, truncated: false };

/** Deps whose FHIR counts its reads, with a memory cache. */
const countingDeps = () => {
  const reads: string[] = [];
  const cache = makeMemoryPhiCache();
  const deps = testDeps({
    cache,
    fhir: scriptedFhirRepository({
      // Counted when run, not when built: a TaskEither is lazy.
      readPatient: () => async () => {
        reads.push('Patient');
        return E.right(patientResource);
      },
      searchObservations: (query) => async () => {
        reads.push(`Observation ${query.code.split('|')[1]}`);
        return E.right(heartRates);
      },
      searchActiveMedicationRequests: () => async () => {
        reads.push('MedicationRequest');
        return E.right({ medicationRequests: [], medications: [] });
      },
    }),
  });
  return { deps, cache, reads };
};

describe('reading through the PHI cache', () => {
  it('serves a repeated read from the cache, the same data, and says so in the record', async () => {
    const { deps, reads } = countingDeps();
    const first = await getPatient({ patient_id: PATIENT }, call(1))(deps)();
    const second = await getPatient({ patient_id: PATIENT }, call(2))(deps)();
    expect(second).toStrictEqual(first);
    expect(E.isRight(second)).toBe(true);
    expect(reads).toStrictEqual(['Patient']);
    expect(deps.audit.records.map((r) => r.data_source)).toStrictEqual(['fhir', 'cache']);
  });

  it('keys entries by the HMACs of patient and query: no id, no code, and each query its own slot', async () => {
    const { deps, cache, reads } = countingDeps();
    await searchObservations({ patient_id: PATIENT, code: '8867-4' }, call(1))(deps)();
    await searchObservations({ patient_id: PATIENT, code: '8302-2' }, call(2))(deps)();
    await searchObservations({ patient_id: OTHER, code: '8867-4' }, call(3))(deps)();
    await getMedicationList({ patient_id: PATIENT }, call(4))(deps)();
    await searchObservations({ patient_id: PATIENT, code: '8867-4' }, call(5))(deps)();
    expect(reads).toStrictEqual(['Observation 8867-4', 'Observation 8302-2', 'Observation 8867-4', 'MedicationRequest']);
    const names = [...cache.entries.keys()];
    expect(names).toHaveLength(4);
    const patientHmac = hmacPatientId(testHmacKey, PATIENT);
    expect(names[0]).toBe(`${patientHmac}.${hmacCacheQuery(testHmacKey, 'memory', patientHmac, ['search_observations', 'http://loinc.org|8867-4', 100])}`);
    for (const name of names) {
      expect(name).toMatch(/^[0-9a-f]{64}\.[0-9a-f]{64}$/);
      for (const secret of [PATIENT, OTHER, '8867-4', '8302-2']) expect(name).not.toContain(secret);
    }
    // The same query for two patients: unrelated query HMACs.
    expect(names[0]?.split('.')[1]).not.toBe(names[2]?.split('.')[1]);
  });

  it('does not share entries across result limits', async () => {
    const { deps, reads } = countingDeps();
    await searchObservations({ patient_id: PATIENT, code: '8867-4' }, call(1))(deps)();
    await searchObservations({ patient_id: PATIENT, code: '8867-4' }, call(2))({ ...deps, limits: { ...deps.limits, maxObservations: 5 } })();
    expect(reads).toHaveLength(2);
  });

  it('caches only successes: a FHIR error is read again next time', async () => {
    const cache = makeMemoryPhiCache();
    let calls = 0;
    const deps = testDeps({
      cache,
      fhir: scriptedFhirRepository({
        readPatient: () => async () => {
          calls++;
          return calls === 1 ? E.left(fhirError('Timeout')) : E.right(patientResource);
        },
      }),
    });
    expect(E.isLeft(await getPatient({ patient_id: PATIENT }, call(1))(deps)())).toBe(true);
    expect(cache.entries.size).toBe(0);
    expect(E.isRight(await getPatient({ patient_id: PATIENT }, call(2))(deps)())).toBe(true);
    expect(calls).toBe(2);
    expect(deps.audit.records.map((r) => [r.status, r.data_source])).toStrictEqual([['error', null], ['success', 'fhir']]);
  });

  it('treats a cache that throws as a miss: the defect is reported and FHIR serves the call', async () => {
    const reported: unknown[] = [];
    const defect = new Error('cache adapter broken');
    const { deps, reads } = countingDeps();
    const broken = { ...deps, cache: { partition: 'broken', read: () => () => Promise.reject(defect), write: () => () => Promise.reject(defect) }, reportDefect: (d: unknown) => void reported.push(d) };
    const result = await getPatient({ patient_id: PATIENT }, call(1))(broken)();
    expect(E.isRight(result)).toBe(true);
    expect(reads).toStrictEqual(['Patient']);
    expect(reported).toStrictEqual([defect, defect]);
    expect(deps.audit.records.map((r) => [r.status, r.data_source])).toStrictEqual([['success', 'fhir']]);
  });

  it('treats an entry that is not JSON as a miss, and never serves it', async () => {
    const reported: unknown[] = [];
    const { deps, reads } = countingDeps();
    const garbled = { ...deps, cache: { partition: 'garbled', read: () => async () => O.some('{not json'), write: () => async () => undefined }, reportDefect: (d: unknown) => void reported.push(d) };
    expect(E.isRight(await getPatient({ patient_id: PATIENT }, call(1))(garbled)())).toBe(true);
    expect(reads).toStrictEqual(['Patient']);
    expect(reported).toHaveLength(1);
  });

  it('never reads the cache for invalid input', async () => {
    const { deps, cache } = countingDeps();
    await getPatient({ patient_id: '../Patient' }, call(1))(deps)();
    expect(cache.log).toStrictEqual([]);
    expect(deps.audit.records.map((r) => r.data_source)).toStrictEqual([null]);
  });

  it('stores a Patient only as the output policy returns it, each policy in its own slot', async () => {
    const { deps, cache, reads } = countingDeps();
    const minimum = await getPatient({ patient_id: PATIENT }, call(1))(deps)();
    expect(minimum).toStrictEqual(
      E.right({ patient: { resourceType: 'Patient', id: PATIENT, birthDate: BIRTH_DATE }, output_policy: 'minimum-necessary', removed: ['identifier:http://hl7.org/fhir/sid/us-ssn'] }),
    );
    expect(JSON.stringify([...cache.entries.values()])).not.toContain(SSN.value);
    const full = { ...deps, limits: { ...deps.limits, patientOutput: 'full' as const } };
    await getPatient({ patient_id: PATIENT }, call(2))(full)();
    expect(await getPatient({ patient_id: PATIENT }, call(3))(deps)()).toStrictEqual(minimum);
    expect(reads).toStrictEqual(['Patient', 'Patient']);
    expect(deps.audit.records.map((r) => r.data_source)).toStrictEqual(['fhir', 'fhir', 'cache']);
  });

  it('never shares an entry between partitions (two FHIR sources on one cache directory)', async () => {
    const { deps, cache, reads } = countingDeps();
    await getPatient({ patient_id: PATIENT }, call(1))(deps)();
    const otherSource = { ...deps, cache: { ...cache, partition: 'another FHIR server' } };
    await getPatient({ patient_id: PATIENT }, call(2))(otherSource)();
    expect(reads).toStrictEqual(['Patient', 'Patient']);
    expect(cache.entries.size).toBe(2);
  });
});
