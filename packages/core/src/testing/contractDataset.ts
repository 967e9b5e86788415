// A small synthetic dataset, shaped like Synthea output (transaction Bundles, urn:uuid references),
// whose answers are known by construction. Every FhirRepository contract case is checked against it.
import { LOINC_SYSTEM } from '../LoincCode.js';

export const CONTRACT_PATIENT_A = 'contract-a';
/** Exercises the `.` and `-` the FHIR id grammar allows. */
export const CONTRACT_PATIENT_B = 'contract.b-2';
/** A patient with no Observations and no MedicationRequests. */
export const CONTRACT_PATIENT_EMPTY = 'contract-empty';
export const HEART_RATE = '8867-4';
export const BODY_HEIGHT = '8302-2';

/** Patient A's heart-rate Observation ids, newest first. */
export const A_HEART_RATE_NEWEST_FIRST = ['a-hr-5', 'a-hr-4', 'a-hr-3', 'a-hr-2', 'a-hr-1'] as const;
export const A_ACTIVE_REQUESTS = ['a-mr-active-ref', 'a-mr-active-concept'] as const;
export const A_ACTIVE_MEDICATION = 'med-active';

type Entry = fhir4.BundleEntry;

const entry = (resource: fhir4.FhirResource & { id: string }): Entry => ({
  fullUrl: `urn:uuid:${resource.id}`,
  resource,
  request: { method: 'POST', url: resource.resourceType },
});

const patient = (id: string, family: string): Entry =>
  entry({ resourceType: 'Patient', id, name: [{ use: 'official', family, given: ['Contract'] }], gender: 'unknown' });

const observation = (id: string, patientId: string, system: string, code: string, date: string): Entry =>
  entry({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system, code }] },
    subject: { reference: `urn:uuid:${patientId}` },
    effectiveDateTime: date,
    valueQuantity: { value: 70, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  });

const medication = (id: string, rxnorm: string): Entry =>
  entry({ resourceType: 'Medication', id, code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: rxnorm }] } });

const request = (
  id: string,
  patientId: string,
  status: fhir4.MedicationRequest['status'],
  medicationId?: string,
): Entry =>
  entry({
    resourceType: 'MedicationRequest',
    id,
    status,
    intent: 'order',
    subject: { reference: `urn:uuid:${patientId}` },
    ...(medicationId === undefined
      ? { medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' }] } }
      : { medicationReference: { reference: `urn:uuid:${medicationId}` } }),
  });

const transaction = (entries: Entry[]): fhir4.Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry: entries });

/** Two bundles, so that adapters are shown to merge more than one. */
export const contractBundles = (): fhir4.Bundle[] => [
  transaction([
    patient(CONTRACT_PATIENT_A, 'Alpha'),
    // Dates out of order on purpose: the repository sorts, not the file.
    observation('a-hr-3', CONTRACT_PATIENT_A, LOINC_SYSTEM, HEART_RATE, '2021-03-01T10:00:00Z'),
    observation('a-hr-1', CONTRACT_PATIENT_A, LOINC_SYSTEM, HEART_RATE, '2019-01-01T10:00:00Z'),
    observation('a-hr-5', CONTRACT_PATIENT_A, LOINC_SYSTEM, HEART_RATE, '2023-05-01T10:00:00Z'),
    observation('a-hr-2', CONTRACT_PATIENT_A, LOINC_SYSTEM, HEART_RATE, '2020-02-01T10:00:00Z'),
    observation('a-hr-4', CONTRACT_PATIENT_A, LOINC_SYSTEM, HEART_RATE, '2022-04-01T10:00:00Z'),
    observation('a-height', CONTRACT_PATIENT_A, LOINC_SYSTEM, BODY_HEIGHT, '2022-04-01T10:00:00Z'),
    // Same code, another system: a token search for http://loinc.org|8867-4 must not match it.
    observation('a-other-system', CONTRACT_PATIENT_A, 'http://example.org/codes', HEART_RATE, '2024-01-01T10:00:00Z'),
    medication(A_ACTIVE_MEDICATION, '314076'),
    medication('med-stopped', '310798'),
    request('a-mr-active-ref', CONTRACT_PATIENT_A, 'active', A_ACTIVE_MEDICATION),
    request('a-mr-active-concept', CONTRACT_PATIENT_A, 'active'),
    request('a-mr-stopped-ref', CONTRACT_PATIENT_A, 'stopped', 'med-stopped'),
    request('a-mr-completed', CONTRACT_PATIENT_A, 'completed'),
  ]),
  transaction([
    patient(CONTRACT_PATIENT_B, 'Beta'),
    observation('b-hr-1', CONTRACT_PATIENT_B, LOINC_SYSTEM, HEART_RATE, '2024-06-01T10:00:00Z'),
    observation('b-hr-2', CONTRACT_PATIENT_B, LOINC_SYSTEM, HEART_RATE, '2024-07-01T10:00:00Z'),
    request('b-mr-active', CONTRACT_PATIENT_B, 'active'),
    patient(CONTRACT_PATIENT_EMPTY, 'Empty'),
  ]),
];
