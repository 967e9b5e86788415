// The 16 synthetic Synthea fixture patients (5 embedded in fhir-files, 11 in fixtures/synthea), read
// through fixtures/synthea-manifest.json, each checked against its sha256 so that tests run on
// pristine data. For tests and benchmarks in this repository only.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface FixturePatient {
  readonly path: string;
  readonly sha256: string;
  readonly patient_id: string;
  readonly deceased: boolean;
  readonly observations: number;
  readonly observations_by_loinc: Readonly<Record<string, number>>;
  readonly medication_requests: number;
  readonly medication_requests_active: number;
  readonly active_with_medication_reference: number;
}

export const REPOSITORY_ROOT: string = fileURLToPath(new URL('../../../', import.meta.url));

export const readFixtureManifest = async (): Promise<readonly FixturePatient[]> =>
  (JSON.parse(await readFile(`${REPOSITORY_ROOT}fixtures/synthea-manifest.json`, 'utf8')) as { patients: FixturePatient[] }).patients;

/** Every fixture bundle, in manifest order; throws if a file differs from the manifest. */
export const readFixtureBundles = async (): Promise<fhir4.Bundle[]> => {
  const manifest = await readFixtureManifest();
  return Promise.all(
    manifest.map(async (row) => {
      const raw = await readFile(`${REPOSITORY_ROOT}${row.path}`);
      if (createHash('sha256').update(raw).digest('hex') !== row.sha256) throw new Error(`fixture ${row.path} differs from its manifest`);
      return JSON.parse(raw.toString('utf8')) as fhir4.Bundle;
    }),
  );
};
