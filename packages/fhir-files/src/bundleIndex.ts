// An in-memory index over FHIR Bundles that answers the three queries as a FHIR server would:
// `urn:uuid:` references resolved to `Type/id`, token search on Observation.code, `_sort=-date`.
import * as E from 'fp-ts/lib/Either.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { type FhirError, type FhirRepository, fhirError, type ObservationSearchResult } from '@hipaa-fhir-mcp/core';
import { revealPatientId } from '@hipaa-fhir-mcp/core/phi';

type IndexedType = 'Patient' | 'Observation' | 'MedicationRequest' | 'Medication';
type Indexed = fhir4.Patient | fhir4.Observation | fhir4.MedicationRequest | fhir4.Medication;
const INDEXED_TYPES: ReadonlySet<string> = new Set<IndexedType>(['Patient', 'Observation', 'MedicationRequest', 'Medication']);

export interface BundleIndex {
  readonly patients: ReadonlyMap<string, fhir4.Patient>;
  /** patient id → code token (`system|code`) → Observations, newest first. */
  readonly observations: ReadonlyMap<string, ReadonlyMap<string, readonly fhir4.Observation[]>>;
  /** patient id → MedicationRequests of every status. */
  readonly medicationRequests: ReadonlyMap<string, readonly fhir4.MedicationRequest[]>;
  /** `Medication/<id>` → Medication. */
  readonly medications: ReadonlyMap<string, fhir4.Medication>;
}

const idOf = (entry: fhir4.BundleEntry): string | undefined =>
  entry.resource?.id ?? (entry.fullUrl?.startsWith('urn:uuid:') ? entry.fullUrl.slice('urn:uuid:'.length) : undefined);

const rewriteReferences = (node: unknown, byFullUrl: ReadonlyMap<string, string>): void => {
  if (Array.isArray(node)) {
    for (const item of node) rewriteReferences(item, byFullUrl);
  } else if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(record)) {
      if (key === 'reference' && typeof value === 'string') record[key] = byFullUrl.get(value) ?? value;
      else rewriteReferences(value, byFullUrl);
    }
  }
};

/**
 * Rewrites, in place, every `reference` that names an entry's fullUrl (`urn:uuid:…` in Synthea) to
 * that entry's relative `Type/id`, as a FHIR server does when it stores a transaction.
 */
export const resolveBundleReferences = (bundle: fhir4.Bundle): void => {
  const byFullUrl = new Map<string, string>();
  for (const entry of bundle.entry ?? []) {
    const id = idOf(entry);
    if (entry.fullUrl !== undefined && entry.resource !== undefined && id !== undefined) {
      byFullUrl.set(entry.fullUrl, `${entry.resource.resourceType}/${id}`);
    }
  }
  for (const entry of bundle.entry ?? []) rewriteReferences(entry.resource, byFullUrl);
};

/**
 * `Type/<id>` of a relative reference, version dropped (`Patient/p1/_history/2` → `Patient/p1`). Absolute
 * references left after fullUrl resolution point at another server and name nothing here.
 */
const localReference = (type: 'Patient' | 'Medication', reference: string | undefined): string | undefined =>
  new RegExp(`^(${type}\\/[A-Za-z0-9\\-.]{1,64})(?:\\/_history\\/[A-Za-z0-9\\-.]{1,64})?$`).exec(reference ?? '')?.[1];

const patientIdOf = (reference: fhir4.Reference | undefined): string | undefined =>
  localReference('Patient', reference?.reference)?.slice('Patient/'.length);

/** Observation's `date` search parameter is `effective[x]` (not `issued`). */
const effectiveTime = (observation: fhir4.Observation): number => {
  const when =
    observation.effectiveDateTime ??
    observation.effectiveInstant ??
    observation.effectivePeriod?.start ??
    observation.effectiveTiming?.event?.[0];
  const time = when === undefined ? Number.NaN : Date.parse(when);
  return Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
};

const pushTo = <K, V>(map: Map<K, V[]>, key: K, value: V): void => {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
};

/** Builds the index. The bundles' resources are taken over (references are rewritten in place). */
export const indexBundles = (bundles: readonly fhir4.Bundle[]): BundleIndex => {
  const resources = new Map<string, Indexed>();
  for (const bundle of bundles) {
    resolveBundleReferences(bundle);
    for (const entry of bundle.entry ?? []) {
      const id = idOf(entry);
      if (entry.resource === undefined || id === undefined || !INDEXED_TYPES.has(entry.resource.resourceType)) continue;
      resources.set(`${entry.resource.resourceType}/${id}`, { ...(entry.resource as Indexed), id });
    }
  }

  const patients = new Map<string, fhir4.Patient>();
  const observations = new Map<string, Map<string, fhir4.Observation[]>>();
  const medicationRequests = new Map<string, fhir4.MedicationRequest[]>();
  const medications = new Map<string, fhir4.Medication>();
  for (const [key, resource] of resources) {
    switch (resource.resourceType) {
      case 'Patient':
        patients.set(resource.id as string, resource);
        break;
      case 'Medication':
        medications.set(key, resource);
        break;
      case 'MedicationRequest': {
        const patientId = patientIdOf(resource.subject);
        if (patientId !== undefined) pushTo(medicationRequests, patientId, resource);
        break;
      }
      case 'Observation': {
        const patientId = patientIdOf(resource.subject);
        if (patientId === undefined) break;
        let byCode = observations.get(patientId);
        if (byCode === undefined) observations.set(patientId, (byCode = new Map()));
        const tokens = new Set((resource.code.coding ?? []).map((coding) => `${coding.system ?? ''}|${coding.code ?? ''}`));
        for (const token of tokens) pushTo(byCode, token, resource);
        break;
      }
    }
  }
  for (const byCode of observations.values()) {
    for (const list of byCode.values()) list.sort((a, b) => effectiveTime(b) - effectiveTime(a));
  }
  return { patients, observations, medicationRequests, medications };
};

/** Answers a FhirRepository's queries from an index (built once, possibly lazily). */
export const repositoryOverIndex = (index: TE.TaskEither<FhirError, BundleIndex>): FhirRepository => ({
  readPatient: (patientId) =>
    TE.chainEitherK((idx: BundleIndex) => {
      const patient = idx.patients.get(revealPatientId(patientId));
      return patient === undefined ? E.left(fhirError('NotFound')) : E.right(patient);
    })(index),

  searchObservations: ({ patientId, code, limit }) =>
    TE.map((idx: BundleIndex): ObservationSearchResult => {
      const matches = idx.observations.get(revealPatientId(patientId))?.get(code) ?? [];
      return { observations: matches.slice(0, limit), total: matches.length, truncated: matches.length > limit };
    })(index),

  searchActiveMedicationRequests: (patientId) =>
    TE.map((idx: BundleIndex) => {
      const active = (idx.medicationRequests.get(revealPatientId(patientId)) ?? []).filter((r) => r.status === 'active');
      const referenced = new Set(active.flatMap((r) => localReference('Medication', r.medicationReference?.reference) ?? []));
      const medications = [...referenced].flatMap((ref) => idx.medications.get(ref) ?? []);
      return { medicationRequests: active, medications };
    })(index),
});

/** A FhirRepository over Bundles already in memory. */
export const makeBundleFhirRepository = (bundles: readonly fhir4.Bundle[]): FhirRepository =>
  repositoryOverIndex(TE.right(indexBundles(bundles)));
