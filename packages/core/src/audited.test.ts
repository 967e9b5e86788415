import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { describe, expect, it } from 'vitest';
import { AUDIT_RECORD_KEYS, type AuditRecord, checkAuditRecord, type RequestId } from './AuditRecord.js';
import {
  auditError,
  auditUnavailable,
  type DomainError,
  fhirError,
  type FhirError,
  identityUnavailable,
  internalError,
  invalidInput,
  keyUnavailable,
  patientNotFound,
} from './errors.js';
import { hmacPatientId } from './PatientIdHmac.js';
import { revealPatientId } from './phi.js';
import type { Deps } from './ports.js';
import { getMedicationList, getPatient, searchObservations, TOOLS } from './useCases.js';
import { scriptedFhirRepository, testDeps, testHmacKey } from './testing/memoryAdapters.js';

const PATIENT = '4e122e91-c63f-4112-a778-6ccf5abfd6f2';
const patientResource: fhir4.Patient = { resourceType: 'Patient', id: PATIENT };
const call = (n = 1) => ({ requestId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}` as RequestId });

const fhirReturning = (patient: TE.TaskEither<FhirError, fhir4.Patient>) =>
  scriptedFhirRepository({ readPatient: () => patient });

const expectedRecord = (overrides: Partial<AuditRecord>): AuditRecord => ({
  timestamp: '2026-01-02T03:04:05.678Z',
  tool: 'get_patient',
  patient_id_hmac: hmacPatientId(testHmacKey, PATIENT),
  caller_identity: 'test-caller',
  request_id: call().requestId,
  status: 'success',
  error_code: null,
  key_id: 'test-key',
  data_source: overrides.status === 'error' || overrides.status === 'denied' ? null : 'fhir',
  workload_identity: null,
  ...overrides,
} as AuditRecord);

describe('the audit combinator', () => {
  it('returns the data and writes one success record with the HMAC, not the id', async () => {
    const deps = testDeps({ fhir: fhirReturning(TE.right(patientResource)) });
    const result = await getPatient({ patient_id: PATIENT }, call())(deps)();
    expect(result).toStrictEqual(E.right({ patient: patientResource, output_policy: 'minimum-necessary', removed: [] }));
    expect(deps.audit.records).toStrictEqual([expectedRecord({})]);
    expect(JSON.stringify(deps.audit.records)).not.toContain(PATIENT);
  });

  it('writes one error record for each failure kind, with the same keys in the same order', async () => {
    const cases: [TE.TaskEither<FhirError, fhir4.Patient>, DomainError, AuditRecord['error_code']][] = [
      [TE.left(fhirError('NotFound')), patientNotFound, 'patient_not_found'],
      [TE.left(fhirError('Unavailable', true)), { _tag: 'FhirUnavailable', retryable: true }, 'fhir_unavailable'],
      [TE.left(fhirError('Timeout')), { _tag: 'FhirTimeout' }, 'fhir_timeout'],
      [TE.left(fhirError('InvalidResponse')), { _tag: 'FhirInvalidResponse' }, 'fhir_invalid_response'],
      [TE.left(fhirError('AuthFailed')), { _tag: 'FhirAuthFailed' }, 'fhir_auth_failed'],
      [TE.left(fhirError('Rejected')), { _tag: 'FhirRejected' }, 'fhir_rejected'],
    ];
    for (const [fhirResult, domainError, code] of cases) {
      const deps = testDeps({ fhir: fhirReturning(fhirResult) });
      expect(await getPatient({ patient_id: PATIENT }, call())(deps)()).toStrictEqual(E.left(domainError));
      expect(deps.audit.records).toStrictEqual([expectedRecord({ status: 'error', error_code: code })]);
      expect(Object.keys(deps.audit.records[0] ?? {})).toStrictEqual([...AUDIT_RECORD_KEYS]);
    }
  });

  it('audits invalid input with the HMAC of whatever id was given, and never calls FHIR', async () => {
    let fhirCalls = 0;
    const deps = testDeps({
      fhir: scriptedFhirRepository({
        readPatient: () => {
          fhirCalls++;
          return TE.right(patientResource);
        },
      }),
    });
    const given = '../Observation';
    expect(await getPatient({ patient_id: given }, call())(deps)()).toStrictEqual(E.left(invalidInput('patient_id')));
    expect(await getPatient({}, call())(deps)()).toStrictEqual(E.left(invalidInput('patient_id')));
    expect(await getPatient({ patient_id: 12 }, call())(deps)()).toStrictEqual(E.left(invalidInput('patient_id')));
    expect(await getPatient('not an object', call())(deps)()).toStrictEqual(E.left(invalidInput('arguments')));
    expect(fhirCalls).toBe(0);
    expect(deps.audit.records.map((r) => [r.patient_id_hmac, r.error_code])).toStrictEqual([
      [hmacPatientId(testHmacKey, given), 'invalid_input'],
      [null, 'invalid_input'],
      [hmacPatientId(testHmacKey, '12'), 'invalid_input'],
      [null, 'invalid_input'],
    ]);
  });

  it('turns a defect into internal_error, reports it, and still writes the record', async () => {
    const reported: unknown[] = [];
    const defect = new Error(`boom for ${PATIENT}`);
    const deps = testDeps({
      fhir: scriptedFhirRepository({
        readPatient: () => () => Promise.reject(defect),
      }),
      reportDefect: (d) => reported.push(d),
    });
    expect(await getPatient({ patient_id: PATIENT }, call())(deps)()).toStrictEqual(E.left(internalError));
    expect(reported).toStrictEqual([defect]);
    expect(deps.audit.records).toStrictEqual([expectedRecord({ status: 'error', error_code: 'internal_error' })]);
  });

  it('survives a reporter that throws', async () => {
    const deps = testDeps({
      fhir: scriptedFhirRepository({ readPatient: () => { throw new Error('sync defect'); } }),
      reportDefect: () => {
        throw new Error('reporter broken');
      },
    });
    expect(await getPatient({ patient_id: PATIENT }, call())(deps)()).toStrictEqual(E.left(internalError));
    expect(deps.audit.records).toHaveLength(1);
  });

  it('fails closed: no data when the sink refuses or throws', async () => {
    const refusing = testDeps({ fhir: fhirReturning(TE.right(patientResource)) });
    refusing.audit.failWith = auditError('WriteFailed', true);
    expect(await getPatient({ patient_id: PATIENT }, call())(refusing)()).toStrictEqual(E.left(auditUnavailable));

    const throwing: Deps = {
      ...testDeps({ fhir: fhirReturning(TE.right(patientResource)) }),
      audit: { append: () => () => Promise.reject(new Error('disk gone')) },
    };
    expect(await getPatient({ patient_id: PATIENT }, call())(throwing)()).toStrictEqual(E.left(auditUnavailable));
  });

  it('fails closed on a record that does not pass the gate (a request id that is not a UUID)', async () => {
    const deps = testDeps({ fhir: fhirReturning(TE.right(patientResource)) });
    const badCall = { requestId: 'Patient/abc-1' as RequestId };
    expect(await getPatient({ patient_id: PATIENT }, badCall)(deps)()).toStrictEqual(E.left(auditUnavailable));
    expect(deps.audit.records).toStrictEqual([]);
  });

  it('records key and identity failures without running the use case', async () => {
    const noKey = testDeps({ fhir: fhirReturning(TE.right(patientResource)), keys: { hmacKey: () => TE.left({ _tag: 'KeyError', reason: 'Unavailable' }) } });
    expect(await getPatient({ patient_id: PATIENT }, call())(noKey)()).toStrictEqual(E.left(keyUnavailable));
    expect(noKey.audit.records).toStrictEqual([
      expectedRecord({ patient_id_hmac: null, caller_identity: null, status: 'error', error_code: 'key_unavailable', key_id: null }),
    ]);

    const noIdentity = testDeps({
      fhir: fhirReturning(TE.right(patientResource)),
      identity: { identify: () => TE.left({ _tag: 'IdentityError', reason: 'Unauthenticated' }) },
    });
    expect(await getPatient({ patient_id: PATIENT }, call())(noIdentity)()).toStrictEqual(E.left(identityUnavailable));
    expect(noIdentity.audit.records).toStrictEqual([
      expectedRecord({ caller_identity: null, status: 'error', error_code: 'identity_unavailable' }),
    ]);
  });

  it('does not write the LOINC code into the record', async () => {
    const deps = testDeps({
      fhir: scriptedFhirRepository({
        searchObservations: () => TE.right({ observations: [], total: 0, truncated: false }),
      }),
    });
    await searchObservations({ patient_id: PATIENT, code: '8867-4' }, call())(deps)();
    expect(JSON.stringify(deps.audit.records)).not.toContain('8867');
    expect(deps.audit.records[0]?.tool).toBe('search_observations');
  });

  it('passes the configured limit and the decoded query to the repository', async () => {
    const seen: string[] = [];
    const deps = testDeps({
      limits: { maxObservations: 7, patientOutput: 'full' },
      fhir: scriptedFhirRepository({
        searchObservations: (q) => {
          seen.push(`${revealPatientId(q.patientId)} ${q.code} ${q.limit}`);
          return TE.right({ observations: [], total: 0, truncated: false });
        },
      }),
    });
    await searchObservations({ patient_id: PATIENT, code: '8867-4' }, call())(deps)();
    expect(seen).toStrictEqual([`${PATIENT} http://loinc.org|8867-4 7`]);
  });
});

describe('get_medication_list', () => {
  it('keeps only active requests and the Medications they reference, whatever the adapter returned', async () => {
    const mr = (id: string, status: fhir4.MedicationRequest['status'], med?: string): fhir4.MedicationRequest => ({
      resourceType: 'MedicationRequest',
      id,
      status,
      intent: 'order',
      subject: { reference: `Patient/${PATIENT}` },
      ...(med === undefined ? {} : { medicationReference: { reference: med } }),
    });
    const med = (id: string): fhir4.Medication => ({ resourceType: 'Medication', id });
    const deps = testDeps({
      fhir: scriptedFhirRepository({
        searchActiveMedicationRequests: () =>
          TE.right({
            medicationRequests: [mr('1', 'active', 'Medication/m1'), mr('2', 'stopped', 'Medication/m2'), mr('3', 'active', 'https://ehr.example/fhir/Medication/m3'), mr('4', 'completed')],
            medications: [med('m1'), med('m2'), med('m3'), med('m4')],
          }),
      }),
    });
    const result = await getMedicationList({ patient_id: PATIENT }, call())(deps)();
    if (E.isLeft(result)) throw new Error('expected Right');
    expect(result.right.medicationRequests.map((r) => r.id)).toStrictEqual(['1', '3']);
    expect(result.right.medications.map((m) => m.id)).toStrictEqual(['m1', 'm3']);
  });
});

describe('the audit invariant, for any sequence of calls and outcomes', () => {
  const outcome = fc.constantFrom<'ok' | 'notFound' | 'unavailable' | 'throws' | 'sinkFails'>(
    'ok',
    'notFound',
    'unavailable',
    'throws',
    'sinkFails',
  );
  const argsFor = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/).map((id) => ({ patient_id: id, code: '8867-4' })),
    fc.string({ unit: 'binary', maxLength: 300 }).map((id) => ({ patient_id: id, code: 'x' })),
    fc.anything(),
  );

  it('writes one record per call (every acknowledged call), none holding the id, and returns data only when written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...(Object.keys(TOOLS) as (keyof typeof TOOLS)[])), argsFor, outcome), { maxLength: 25 }),
        async (calls) => {
          const deps = testDeps();
          let attempted = 0;
          for (const [index, [tool, args, kind]] of calls.entries()) {
            const respond = <A>(value: A): TE.TaskEither<FhirError, A> => {
              if (kind === 'throws') throw new Error(`defect ${JSON.stringify(args)}`);
              if (kind === 'notFound') return TE.left(fhirError('NotFound'));
              if (kind === 'unavailable') return TE.left(fhirError('Unavailable', true));
              return TE.right(value);
            };
            deps.audit.failWith = kind === 'sinkFails' ? auditError('WriteFailed') : undefined;
            const run = TOOLS[tool](args, call(index))({
              ...deps,
              fhir: scriptedFhirRepository({
                readPatient: () => respond(patientResource),
                searchObservations: () => respond({ observations: [], total: 0, truncated: false }),
                searchActiveMedicationRequests: () => respond({ medicationRequests: [], medications: [] }),
              }),
            });
            const result: E.Either<DomainError, unknown> = await run();
            attempted++;
            if (kind === 'sinkFails') expect(result).toStrictEqual(E.left(auditUnavailable));
            if (E.isRight(result)) expect(deps.audit.records.at(-1)?.request_id).toBe(call(index).requestId);
          }
          const sinkFailures = calls.filter(([, , kind]) => kind === 'sinkFails').length;
          expect(deps.audit.records).toHaveLength(attempted - sinkFailures);
          for (const record of deps.audit.records) expect(E.isRight(checkAuditRecord(record))).toBe(true);
          const log = JSON.stringify(deps.audit.records);
          for (const [, args] of calls) {
            const id = (args as { patient_id?: unknown } | null)?.patient_id;
            if (typeof id === 'string' && id.length >= 8) expect(log).not.toContain(id);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
