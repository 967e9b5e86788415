import * as E from 'fp-ts/lib/Either.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { describe, expect, it } from 'vitest';
import { type AccessGrant, callerIdentityFromClaims, checkPatientContext, checkToolScopes, scopesForTool } from './access.js';
import { type CallerIdentity, checkAuditRecord, type RequestId } from './AuditRecord.js';
import { accessDenied } from './errors.js';
import { PatientId } from './PatientId.js';
import { hmacPatientId } from './PatientIdHmac.js';
import { checkToolAccess, getMedicationList, getPatient, searchObservations } from './useCases.js';
import { scriptedFhirRepository, testDeps, testHmacKey } from './testing/memoryAdapters.js';
import { sampleAuditRecord } from './testing/contracts.js';

const ALICE = 'synthetic-alice';
const BOB = 'synthetic-bob';
const id = (raw: string) => PatientId.fromString(raw) as PatientId;
const grant = (scopes: string[], patient?: string): AccessGrant => ({ scopes, patient: patient === undefined ? undefined : id(patient), user: 'fhirUser:Practitioner/p1' as CallerIdentity });
const call = (n: number, access?: Parameters<typeof getPatient>[1]['access']) => ({
  requestId: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}` as RequestId,
  ...(access === undefined ? {} : { access }),
});

describe('SMART scopes per tool', () => {
  it('grants by v2 letters or v1 read, in any context, for the type or *', () => {
    const allowed: [Parameters<typeof checkToolScopes>[0], string[]][] = [
      ['get_patient', ['patient/Patient.rs']],
      ['get_patient', ['patient/Patient.r']],
      ['get_patient', ['user/Patient.read']],
      ['get_patient', ['system/*.rs']],
      ['get_patient', ['patient/*.cruds']],
      ['get_patient', ['user/Patient.*']],
      ['search_observations', ['patient/Observation.rs']],
      ['search_observations', ['patient/Observation.s']],
      ['get_medication_list', ['patient/MedicationRequest.rs', 'patient/Medication.rs']],
      ['get_medication_list', ['user/MedicationRequest.s', 'system/Medication.r']],
    ];
    for (const [tool, scopes] of allowed) expect(checkToolScopes(tool, grant(scopes)), `${tool} ${scopes}`).toStrictEqual(E.right(undefined));
  });

  it('refuses a missing type, a missing permission, write-only, a query-narrowed scope, and other shapes', () => {
    const refused: [Parameters<typeof checkToolScopes>[0], string[]][] = [
      ['get_patient', []],
      ['get_patient', ['patient/Observation.rs']],
      ['get_patient', ['patient/Patient.s']],
      ['get_patient', ['patient/Patient.write']],
      ['get_patient', ['patient/Patient.cud']],
      ['get_patient', ['patient/Patient.sr']], // v2 letters must be in order
      ['get_patient', ['launch/patient', 'openid', 'fhirUser']],
      ['get_patient', ['Patient.rs', 'patient/patient.rs', 'admin/Patient.rs']],
      ['search_observations', ['patient/Observation.r']],
      ['search_observations', ['patient/Observation.rs?category=laboratory']],
      ['get_medication_list', ['patient/MedicationRequest.rs']],
    ];
    for (const [tool, scopes] of refused) expect(checkToolScopes(tool, grant(scopes)), `${tool} ${scopes}`).toStrictEqual(E.left('insufficient_scope'));
    expect(scopesForTool('get_medication_list')).toStrictEqual(['patient/MedicationRequest.rs', 'patient/Medication.rs']);
  });

  it('limits a token with a launch context to that patient, whatever its scopes; without one, only user/ and system/ scopes reach patients', () => {
    expect(checkPatientContext('get_patient', id(ALICE), grant(['patient/Patient.rs'], ALICE))).toStrictEqual(E.right(undefined));
    expect(checkPatientContext('get_patient', id(BOB), grant(['patient/Patient.rs'], ALICE))).toStrictEqual(E.left('patient_not_in_context'));
    // An EHR launch: user/ scopes and a patient in context — still that patient only.
    expect(checkPatientContext('get_patient', id(BOB), grant(['user/Patient.rs', 'launch'], ALICE))).toStrictEqual(E.left('patient_not_in_context'));
    expect(checkPatientContext('get_patient', id(BOB), grant(['system/*.rs'], ALICE))).toStrictEqual(E.left('patient_not_in_context'));
    expect(checkPatientContext('get_patient', id(ALICE), grant(['user/Patient.rs'], ALICE))).toStrictEqual(E.right(undefined));
    expect(checkPatientContext('get_patient', id(ALICE), grant(['patient/Patient.rs']))).toStrictEqual(E.left('patient_not_in_context'));
    expect(checkPatientContext('get_patient', id(BOB), grant(['system/*.rs']))).toStrictEqual(E.right(undefined));
    expect(checkPatientContext('get_medication_list', id(BOB), grant(['user/MedicationRequest.rs', 'patient/Medication.rs']))).toStrictEqual(
      E.left('patient_not_in_context'),
    );
  });

  it('decides for the transport exactly as the combinator does: scopes, then input, then patient', () => {
    const limited = grant(['patient/Patient.rs'], ALICE);
    expect(checkToolAccess('get_patient', { patient_id: BOB }, limited)).toStrictEqual(E.left('patient_not_in_context'));
    expect(checkToolAccess('search_observations', { patient_id: BOB, code: '8867-4' }, limited)).toStrictEqual(E.left('insufficient_scope'));
    // Invalid input is the tool's to report (invalid_input), not a refusal.
    expect(checkToolAccess('get_patient', { patient_id: BOB, extra: 1 }, limited)).toStrictEqual(E.right(undefined));
    expect(checkToolAccess('get_patient', { patient_id: ALICE }, limited)).toStrictEqual(E.right(undefined));
  });
});

describe('the caller a token names', () => {
  it('is fhirUser when there is one, else sub; a Patient or RelatedPerson user only as an HMAC', () => {
    expect(callerIdentityFromClaims({ fhirUser: 'https://ehr.example/fhir/Practitioner/dr-7', sub: 'u1' }, testHmacKey)).toBe('fhirUser:Practitioner/dr-7');
    expect(callerIdentityFromClaims({ fhirUser: `Patient/${ALICE}`, sub: 'u1' }, testHmacKey)).toBe(`fhirUser:Patient/hmac:${hmacPatientId(testHmacKey, ALICE)}`);
    expect(callerIdentityFromClaims({ fhirUser: `https://ehr/RelatedPerson/${BOB}` }, testHmacKey)).toBe(`fhirUser:RelatedPerson/hmac:${hmacPatientId(testHmacKey, BOB)}`);
    expect(callerIdentityFromClaims({ sub: 'clinician-42' }, testHmacKey)).toBe('sub:clinician-42');
    expect(callerIdentityFromClaims({ sub: ALICE }, testHmacKey, { patientFacing: true })).toMatch(/^sub-hmac:[0-9a-f]{64}$/);
    expect(callerIdentityFromClaims({ fhirUser: 'Practitioner/dr-7/_history/3' }, testHmacKey)).toBe('fhirUser:Practitioner/dr-7');
    expect(callerIdentityFromClaims({ sub: 'line\nbreak' }, testHmacKey)).toMatch(/^sub-hmac:[0-9a-f]{64}$/);
    expect(callerIdentityFromClaims({ fhirUser: 'Device/d1' }, testHmacKey)).toBeUndefined();
    expect(callerIdentityFromClaims({}, testHmacKey)).toBeUndefined();
  });
});

describe('access control in the audit combinator', () => {
  const patient: fhir4.Patient = { resourceType: 'Patient', id: ALICE };
  const deps = () => {
    let fhirReads = 0;
    const d = testDeps({
      fhir: scriptedFhirRepository({
        readPatient: () => async () => {
          fhirReads++;
          return E.right(patient);
        },
        searchObservations: () => TE.right({ observations: [], total: 0, truncated: false }),
      }),
    });
    return { d, reads: () => fhirReads };
  };

  it('serves a call the token allows', async () => {
    const { d, reads } = deps();
    const result = await getPatient({ patient_id: ALICE }, call(1, { _tag: 'Granted', grant: grant(['patient/Patient.rs'], ALICE) }))(d)();
    expect(E.isRight(result)).toBe(true);
    expect(reads()).toBe(1);
    expect(d.audit.records.map((r) => [r.status, r.error_code, r.caller_identity])).toStrictEqual([['success', null, 'test-caller']]);
  });

  it('refuses and audits as denied: a bad token, a missing scope, another patient — FHIR never read', async () => {
    const { d, reads } = deps();
    const outcomes = [
      await getPatient({ patient_id: ALICE }, call(1, { _tag: 'InvalidToken' }))(d)(),
      await searchObservations({ patient_id: ALICE, code: '8867-4' }, call(2, { _tag: 'Granted', grant: grant(['patient/Patient.rs'], ALICE) }))(d)(),
      await getPatient({ patient_id: BOB }, call(3, { _tag: 'Granted', grant: grant(['patient/Patient.rs'], ALICE) }))(d)(),
      // A missing scope is refused before the arguments are even decoded.
      await getMedicationList({ patient_id: '../x' }, call(4, { _tag: 'Granted', grant: grant([]) }))(d)(),
    ];
    expect(outcomes).toStrictEqual([
      E.left(accessDenied('invalid_token')),
      E.left(accessDenied('insufficient_scope')),
      E.left(accessDenied('patient_not_in_context')),
      E.left(accessDenied('insufficient_scope')),
    ]);
    expect(reads()).toBe(0);
    expect(d.audit.records.map((r) => [r.status, r.error_code, r.caller_identity, r.data_source])).toStrictEqual([
      ['denied', 'invalid_token', null, null],
      ['denied', 'insufficient_scope', 'test-caller', null],
      ['denied', 'patient_not_in_context', 'test-caller', null],
      ['denied', 'insufficient_scope', 'test-caller', null],
    ]);
    // Every denial is attributable: the HMAC of the id asked for, never the id.
    expect(d.audit.records[2]?.patient_id_hmac).toBe(hmacPatientId(testHmacKey, BOB));
    expect(JSON.stringify(d.audit.records)).not.toContain(BOB);
  });

  it('records the workload identity the IdentityProvider gives', async () => {
    const d = testDeps({ fhir: scriptedFhirRepository({ readPatient: () => TE.right(patient) }) });
    const { staticIdentity } = await import('./testing/memoryAdapters.js');
    const withWorkload = { ...d, identity: staticIdentity('sub:u1', 'spiffe://clinic.example/ns/prod/sa/hipaa-fhir-mcp') };
    await getPatient({ patient_id: ALICE }, call(1))(withWorkload)();
    expect(d.audit.records[0]?.workload_identity).toBe('spiffe://clinic.example/ns/prod/sa/hipaa-fhir-mcp');
    expect(() => staticIdentity('x', 'spiffe://Upper.Case/x')).toThrow(TypeError);
    expect(() => staticIdentity('x', 'spiffe://td/../x')).toThrow(TypeError);
  });

  it('accepts denied records only with a denial code, and no denial code on another status', () => {
    const denied = sampleAuditRecord(1, { status: 'denied', error_code: 'insufficient_scope' });
    expect(checkAuditRecord(denied)).toStrictEqual(E.right(denied));
    for (const bad of [
      { ...denied, error_code: 'internal_error' },
      { ...denied, error_code: null },
      { ...denied, data_source: 'fhir' },
      sampleAuditRecord(2, { status: 'error', error_code: 'invalid_token' }),
      sampleAuditRecord(3, { workload_identity: 'not-a-spiffe-id' as never }),
    ]) {
      expect(checkAuditRecord(bad)).toStrictEqual(E.left('rejected'));
    }
  });
});
