import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { fhirError, normaliseLoincCode, PatientId, type LoincCode } from '@hipaa-fhir-mcp/core';
import { fhirRepositoryContract } from '@hipaa-fhir-mcp/core/testing';
import { makeBundleFhirRepository } from './bundleIndex.js';
import { embeddedDataDir, makeFilesFhirRepository } from './filesFhirRepository.js';

interface ManifestRow {
  readonly file: string;
  readonly patient_id: string;
  readonly observations_by_loinc: Record<string, number>;
  readonly medication_requests_active: number;
  readonly active_with_medication_reference: number;
}

const manifest = JSON.parse(
  await readFile(new URL('../data/manifest.json', import.meta.url), 'utf8'),
) as { patients: ManifestRow[] };

const writeBundles = async (bundles: readonly unknown[]): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'fhir-files-'));
  await Promise.all(bundles.map((bundle, i) => writeFile(join(dir, `bundle-${i}.json`), JSON.stringify(bundle))));
  return dir;
};

const id = (raw: string) => PatientId.fromString(raw) as PatientId;
const loinc = (code: string) => normaliseLoincCode(code) as LoincCode;

fhirRepositoryContract('fhir-files, bundles in memory', async (bundles) => ({
  repository: makeBundleFhirRepository(structuredClone(bundles)),
}));

fhirRepositoryContract('fhir-files, a directory of bundle files', async (bundles) => {
  const dir = await writeBundles(bundles);
  return { repository: makeFilesFhirRepository({ dir }), close: () => rm(dir, { recursive: true }) };
});

describe('fhir-files on the embedded Synthea data, against the manifest counts', () => {
  const repository = makeFilesFhirRepository({ dir: embeddedDataDir });

  it.each(manifest.patients.map((row) => [row.file.split('_')[0], row] as const))('%s', async (_name, row) => {
    const patient = await repository.readPatient(id(row.patient_id))();
    expect(E.isRight(patient) && patient.right.id).toBe(row.patient_id);

    for (const [code, count] of Object.entries(row.observations_by_loinc)) {
      const found = await repository.searchObservations({ patientId: id(row.patient_id), code: loinc(code), limit: 10_000 })();
      if (E.isLeft(found)) throw new Error('search failed');
      expect(found.right.total).toBe(count);
      expect(found.right.observations).toHaveLength(count);
      for (const o of found.right.observations) expect(o.subject?.reference).toBe(`Patient/${row.patient_id}`);
    }

    const meds = await repository.searchActiveMedicationRequests(id(row.patient_id))();
    if (E.isLeft(meds)) throw new Error('medication search failed');
    expect(meds.right.medicationRequests).toHaveLength(row.medication_requests_active);
    expect(meds.right.medications).toHaveLength(row.active_with_medication_reference);
    for (const medication of meds.right.medications) expect(medication.resourceType).toBe('Medication');
  });
});

describe('fhir-files load failures', () => {
  it('answers Unavailable for a missing directory, and loads once it appears', async () => {
    const dir = join(tmpdir(), `fhir-files-missing-${process.pid}-${Date.now()}`);
    const repository = makeFilesFhirRepository({ dir });
    expect(await repository.readPatient(id('contract-a'))()).toStrictEqual(E.left(fhirError('Unavailable')));
    await mkdir(dir);
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'p1' } }] };
    await writeFile(join(dir, 'late.json'), JSON.stringify(bundle));
    expect(E.isRight(await repository.readPatient(id('p1'))())).toBe(true);
    await rm(dir, { recursive: true });
  });

  it('answers Unavailable for malformed JSON and InvalidResponse for a file that is not a Bundle', async () => {
    const malformed = await writeBundles(['{not json']);
    await writeFile(join(malformed, 'bundle-0.json'), '{not json');
    expect(await makeFilesFhirRepository({ dir: malformed }).readPatient(id('x'))()).toStrictEqual(E.left(fhirError('Unavailable')));
    const notBundle = await writeBundles([{ resourceType: 'Patient', id: 'x' }]);
    expect(await makeFilesFhirRepository({ dir: notBundle }).readPatient(id('x'))()).toStrictEqual(E.left(fhirError('InvalidResponse')));
    await Promise.all([rm(malformed, { recursive: true }), rm(notBundle, { recursive: true })]);
  });
});
