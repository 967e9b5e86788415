// FhirRepository over FHIR R4 REST. Every answer is checked before it is believed: the Patient read
// is the one asked for, and every search entry belongs to the requested patient, even when a server
// silently drops the `patient` parameter. Paging follows `next` links on the configured origin only.
import * as E from 'fp-ts/lib/Either.js';
import {
  type FhirError,
  fhirError,
  type FhirRepository,
  loincCodeValue,
  type MedicationList,
  type ObservationSearchResult,
  type PatientId,
} from '@hipaa-fhir-mcp/core';
import { revealPatientId } from '@hipaa-fhir-mcp/core/phi';
import { type FhirAuth, noAuth } from './auth.js';
import { type FhirClient, makeFhirClient } from './fhirClient.js';

export interface HttpFhirRepositoryConfig {
  readonly baseUrl: string;
  readonly auth?: FhirAuth;
  /** Per attempt (FHIR_TIMEOUT_MS). Default 10 s. */
  readonly timeoutMs?: number;
  /** Default 2. */
  readonly retries?: number;
  /** Default 5 s. */
  readonly maxRetryAfterMs?: number;
  /** Default 16 MiB. */
  readonly maxResponseBytes?: number;
  /** First retry backoff, doubled per attempt. Default 250 ms. */
  readonly retryBaseDelayMs?: number;
  /** `_count` asked of the server per page (capped by the caller's limit). Default 100. */
  readonly pageSize?: number;
  /** Most pages read for one call. Default 50. */
  readonly maxPages?: number;
}

type Entry = fhir4.BundleEntry<fhir4.FhirResource>;
const invalid = (): E.Either<FhirError, never> => E.left(fhirError('InvalidResponse'));

/**
 * `Type/<id>` named by a reference — relative, or absolute on this server's base — with any
 * `/_history/<version>` dropped; undefined for anything else (another server, a contained `#id`).
 */
const localReference = (base: URL, type: 'Patient' | 'Medication', reference: string | undefined): string | undefined => {
  const relative = reference?.startsWith(base.href) ? reference.slice(base.href.length) : reference;
  return new RegExp(`^(${type}\\/[A-Za-z0-9\\-.]{1,64})(?:\\/_history\\/[A-Za-z0-9\\-.]{1,64})?$`).exec(relative ?? '')?.[1];
};

/** The self link must show that the server applied the patient filter, if the server sends one. */
const selfLinkKeepsPatient = (base: URL, bundle: fhir4.Bundle, patientId: string): boolean => {
  const self = bundle.link?.find((l) => l.relation === 'self')?.url;
  if (self === undefined) return true;
  try {
    const params = new URL(self, 'http://self.invalid').searchParams;
    const values = ['patient', 'subject', 'subject:Patient'].flatMap((name) => params.getAll(name));
    return values.some((v) => v === patientId || localReference(base, 'Patient', v) === `Patient/${patientId}`);
  } catch {
    return false;
  }
};

/** Observation's `date` search parameter is `effective[x]` (not `issued`). */
const effectiveTime = (o: fhir4.Observation): number => {
  const when = o.effectiveDateTime ?? o.effectiveInstant ?? o.effectivePeriod?.start;
  const time = when === undefined ? Number.NaN : Date.parse(when);
  return Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
};

interface SearchPages {
  /** Match entries kept (at most `keep`), include entries, and whether more matches exist. */
  readonly matches: readonly fhir4.FhirResource[];
  readonly includes: readonly fhir4.FhirResource[];
  readonly total: number | null;
  readonly more: boolean;
  readonly seen: number;
}

export const makeHttpFhirRepository = (config: HttpFhirRepositoryConfig): FhirRepository => {
  const client: FhirClient = makeFhirClient({
    baseUrl: config.baseUrl,
    auth: config.auth ?? noAuth,
    timeoutMs: config.timeoutMs ?? 10_000,
    retries: config.retries ?? 2,
    maxRetryAfterMs: config.maxRetryAfterMs ?? 5_000,
    maxResponseBytes: config.maxResponseBytes ?? 16 * 1024 * 1024,
    retryBaseDelayMs: config.retryBaseDelayMs ?? 250,
  });
  const pageSize = config.pageSize ?? 100;
  const maxPages = config.maxPages ?? 50;

  /** @phi Reads search pages for one patient, checking each entry, until `keep` matches or the end. */
  const searchPages = async (
    resourceType: 'Observation' | 'MedicationRequest',
    params: URLSearchParams,
    patientId: string,
    keep: number,
    includeType?: 'Medication',
  ): Promise<E.Either<FhirError, SearchPages>> => {
    let url: URL | undefined = client.resolve(`${resourceType}?${params.toString()}`);
    const matches: fhir4.FhirResource[] = [];
    const includes: fhir4.FhirResource[] = [];
    let total: number | null = null;
    let seen = 0;
    for (let page = 0; url !== undefined; page++) {
      if (page === maxPages) return E.left(fhirError('Rejected'));
      const body = await client.getJson(url, 'Rejected');
      if (E.isLeft(body)) return body;
      const bundle = body.right as fhir4.Bundle;
      if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'searchset' || !selfLinkKeepsPatient(client.base, bundle, patientId)) return invalid();
      if (page === 0 && typeof bundle.total === 'number') total = bundle.total;
      for (const entry of (bundle.entry ?? []) as Entry[]) {
        const resource = entry.resource;
        const mode = entry.search?.mode ?? 'match';
        if (mode === 'outcome' || resource?.resourceType === 'OperationOutcome') continue;
        if (mode === 'include') {
          if (resource === undefined || resource.resourceType !== includeType) return invalid();
          includes.push(resource);
          continue;
        }
        const subject = (resource as fhir4.Observation | undefined)?.subject?.reference;
        if (resource?.resourceType !== resourceType || localReference(client.base, 'Patient', subject) !== `Patient/${patientId}`) return invalid();
        seen++;
        if (matches.length < keep) matches.push(resource);
      }
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (next !== undefined && !client.sameOrigin(next)) return invalid();
      if (matches.length >= keep && next !== undefined) return E.right({ matches, includes, total, more: true, seen });
      url = next === undefined ? undefined : new URL(next, client.base);
    }
    return E.right({ matches, includes, total: total ?? seen, more: seen > matches.length, seen });
  };

  return {
    readPatient: (patientId: PatientId) => async () => {
      const id = revealPatientId(patientId);
      const body = await client.getJson(client.resolve(`Patient/${encodeURIComponent(id)}`), 'NotFound');
      if (E.isLeft(body)) return body;
      const patient = body.right as fhir4.Patient;
      return patient?.resourceType === 'Patient' && patient.id === id ? E.right(patient) : invalid();
    },

    searchObservations: ({ patientId, code, limit }) => async () => {
      const id = revealPatientId(patientId);
      const params = new URLSearchParams({ patient: id, code, _sort: '-date', _count: String(Math.min(limit, pageSize)) });
      const pages = await searchPages('Observation', params, id, limit);
      if (E.isLeft(pages)) return pages;
      const observations = [...(pages.right.matches as fhir4.Observation[])].sort((a, b) => effectiveTime(b) - effectiveTime(a));
      // Defence in depth: the code searched for, whatever the server matched.
      if (!observations.every((o) => o.code.coding?.some((c) => c.system === 'http://loinc.org' && c.code === loincCodeValue(code)))) return invalid();
      const result: ObservationSearchResult = {
        observations,
        total: pages.right.total,
        truncated: pages.right.more || (pages.right.total ?? 0) > observations.length,
      };
      return E.right(result);
    },

    searchActiveMedicationRequests: (patientId) => async () => {
      const id = revealPatientId(patientId);
      const params = new URLSearchParams({ patient: id, status: 'active', _include: 'MedicationRequest:medication', _count: String(pageSize) });
      const pages = await searchPages('MedicationRequest', params, id, Number.POSITIVE_INFINITY, 'Medication');
      if (E.isLeft(pages)) return pages;
      const medicationRequests = pages.right.matches as fhir4.MedicationRequest[];
      const included = new Map((pages.right.includes as fhir4.Medication[]).map((m) => [`Medication/${m.id}`, m]));
      // Servers that ignore _include: read each referenced Medication on this origin.
      const medications: fhir4.Medication[] = [];
      for (const relative of new Set(medicationRequests.flatMap((r) => localReference(client.base, 'Medication', r.medicationReference?.reference) ?? []))) {
        const found = included.get(relative);
        if (found !== undefined) {
          medications.push(found);
          continue;
        }
        const body = await client.getJson(client.resolve(relative), 'Rejected');
        if (E.isLeft(body)) return body;
        const medication = body.right as fhir4.Medication;
        if (medication?.resourceType !== 'Medication' || `Medication/${medication.id}` !== relative) return invalid();
        medications.push(medication);
      }
      const list: MedicationList = { medicationRequests, medications };
      return E.right(list);
    },
  };
};
