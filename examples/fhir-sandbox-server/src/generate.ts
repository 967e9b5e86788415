// Deterministic, seeded, Synthea-shaped data for paging tests and benchmarks: one Patient with as
// many heart-rate Observations as asked (one an hour, backwards from a fixed instant), a few other
// vitals, and active and stopped MedicationRequests. The same seed always gives the same bytes.

/** mulberry32: a small, fast, well-distributed 32-bit PRNG. */
const prng = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const uuid = (next: () => number): string => {
  const hex = Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

export interface GeneratedPatientOptions {
  readonly seed: number;
  /** Heart-rate (LOINC 8867-4) Observations. */
  readonly heartRates: number;
}

const END = Date.parse('2026-01-01T00:00:00Z');

export const generatePatientBundle = ({ seed, heartRates }: GeneratedPatientOptions): fhir4.Bundle => {
  const next = prng(seed);
  const patientId = uuid(next);
  const subject = { reference: `urn:uuid:${patientId}` };
  const entry = (resource: fhir4.FhirResource & { id: string }): fhir4.BundleEntry => ({
    fullUrl: `urn:uuid:${resource.id}`,
    resource,
    request: { method: 'POST', url: resource.resourceType },
  });
  const vital = (code: string, display: string, value: number, unit: string, at: number): fhir4.BundleEntry =>
    entry({
      resourceType: 'Observation',
      id: uuid(next),
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code, display }], text: display },
      subject,
      effectiveDateTime: new Date(at).toISOString(),
      valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
    });
  const request = (status: 'active' | 'stopped', rxnorm: string, display: string): fhir4.BundleEntry =>
    entry({
      resourceType: 'MedicationRequest',
      id: uuid(next),
      status,
      intent: 'order',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: rxnorm, display }], text: display },
      subject,
      authoredOn: new Date(END - Math.floor(next() * 3650) * 86_400_000).toISOString().slice(0, 10),
    });

  const entries: fhir4.BundleEntry[] = [
    entry({
      resourceType: 'Patient',
      id: patientId,
      name: [{ use: 'official', family: `Generated${seed}`, given: ['Synthetic'] }],
      gender: next() < 0.5 ? 'female' : 'male',
      birthDate: `19${50 + Math.floor(next() * 50)}-0${1 + Math.floor(next() * 9)}-1${Math.floor(next() * 9)}`,
    }),
  ];
  for (let i = 0; i < heartRates; i++) entries.push(vital('8867-4', 'Heart rate', 55 + Math.round(next() * 50), '/min', END - i * 3_600_000));
  for (let i = 0; i < 10; i++) entries.push(vital('29463-7', 'Body weight', 60 + Math.round(next() * 400) / 10, 'kg', END - i * 30 * 86_400_000));
  entries.push(request('active', '314076', 'lisinopril 10 MG Oral Tablet'), request('active', '860975', 'metformin 500 MG Oral Tablet'));
  entries.push(request('stopped', '310798', 'Hydrochlorothiazide 25 MG Oral Tablet'));
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
};

/** The patient id of a generated bundle. */
export const generatedPatientId = (bundle: fhir4.Bundle): string => bundle.entry?.[0]?.resource?.id ?? '';
