import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { type LoincCode, normaliseLoincCode, PatientId } from '@hipaa-fhir-mcp/core';
import { makeBundleFhirRepository } from './bundleIndex.js';

const id = (raw: string) => PatientId.fromString(raw) as PatientId;
const code = normaliseLoincCode('8867-4') as LoincCode;
const hr = (obsId: string, subject: string, when: Partial<fhir4.Observation>): fhir4.BundleEntry => ({
  resource: { resourceType: 'Observation', id: obsId, status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: subject }, ...when },
});

const bundle: fhir4.Bundle = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    { resource: { resourceType: 'Patient', id: 'p1' } },
    hr('versioned', 'Patient/p1/_history/2', { effectiveDateTime: '2020-01-01T00:00:00Z' }),
    hr('elsewhere', 'https://other.example/fhir/Patient/p1', { effectiveDateTime: '2021-01-01T00:00:00Z' }),
    hr('issued-only', 'Patient/p1', { issued: '2030-01-01T00:00:00Z' }),
    hr('dated', 'Patient/p1', { effectiveDateTime: '2022-01-01T00:00:00Z' }),
    { resource: { resourceType: 'Medication', id: 'm1' } },
    { resource: { resourceType: 'Medication', id: 'm2' } },
    {
      resource: <fhir4.MedicationRequest>{ resourceType: 'MedicationRequest', id: 'r1', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' }, medicationReference: { reference: 'Medication/m1/_history/3' } },
    },
    {
      resource: <fhir4.MedicationRequest>{ resourceType: 'MedicationRequest', id: 'r2', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' }, medicationReference: { reference: 'https://other.example/fhir/Medication/m2' } },
    },
  ],
};

describe('FHIR reference and search semantics of fhir-files', () => {
  const repository = makeBundleFhirRepository([bundle]);

  it('matches versioned references, ignores other servers, and sorts by effective[x] only', async () => {
    const found = await repository.searchObservations({ patientId: id('p1'), code, limit: 10 })();
    if (E.isLeft(found)) throw new Error('search failed');
    // `issued` is not the `date` search parameter: an Observation without effective[x] sorts last.
    expect(found.right.observations.map((o) => o.id)).toStrictEqual(['dated', 'versioned', 'issued-only']);
  });

  it('resolves versioned Medication references, and not references to another server', async () => {
    const meds = await repository.searchActiveMedicationRequests(id('p1'))();
    if (E.isLeft(meds)) throw new Error('search failed');
    expect(meds.right.medicationRequests.map((r) => r.id)).toStrictEqual(['r1', 'r2']);
    expect(meds.right.medications.map((m) => m.id)).toStrictEqual(['m1']);
  });
});
