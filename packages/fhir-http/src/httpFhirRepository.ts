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
  /** Deadline for one repository call, all requests and retries included. Default 3 × timeout + 5 s. */
  readonly callDeadlineMs?: number;
}

/** Most distinct Medications read one by one for a server that ignores `_include`. */
const MAX_MEDICATION_READS = 100;

type Entry = fhir4.BundleEntry<fhir4.FhirResource>;
const invalid = (): E.Either<FhirError, never> => E.left(fhirError('InvalidResponse'));

/**
 * `Type/<id>` named by a reference — relative, or absolute on this server's base — with any
 * `/_history/<version>` dropped; undefined for anything else (another server, a contained `#id`).
 */
const localReference = (base: URL, type: 'Patient' | 'Medication', reference: unknown): string | undefined => {
  if (typeof reference !== 'string') return undefined;
  let relative = reference;
  if (/^[a-z][a-z0-9+.-]*:/i.test(reference)) {
    // Absolute: compare parsed origin and path, not raw text (`HTTP://HOST` is the same server).
    try {
      const url = new URL(reference);
      if (url.origin !== base.origin || url.username !== '' || !url.pathname.startsWith(base.pathname) || url.search !== '') return undefined;
      relative = url.pathname.slice(base.pathname.length);
    } catch {
      return undefined;
    }
  }
  // Ids made only of dots are URL dot-segments (`Medication/..` would resolve to the base): refused.
  return new RegExp(`^(${type}\\/(?!\\.+(?:\\/|$))[A-Za-z0-9\\-.]{1,64})(?:\\/_history\\/[A-Za-z0-9\\-.]{1,64})?$`).exec(relative)?.[1];
};

/** The self link must show that the server applied the patient filter, if the server sends one. */
const selfLinkKeepsPatient = (base: URL, links: readonly fhir4.BundleLink[], patientId: string): boolean => {
  const self = links.find((l) => l.relation === 'self')?.url;
  if (self === undefined) return true;
  if (typeof self !== 'string') return false;
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
  /** Match entries kept (at most `keep`, in server order), include entries, and whether more matches exist. */
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
  const callDeadlineMs = config.callDeadlineMs ?? (config.timeoutMs ?? 10_000) * 3 + 5_000;
  /** One deadline for everything one repository call does. */
  const deadline = (): AbortSignal => AbortSignal.timeout(callDeadlineMs);

  /**
   * @phi Reads search pages for one patient, checking each entry, until `keep` matches or the end.
   * `inOrder` is told each match in arrival order and may refuse it (a server that ignored `_sort`).
   */
  const searchPages = async (
    resourceType: 'Observation' | 'MedicationRequest',
    params: URLSearchParams,
    patientId: string,
    keep: number,
    signal: AbortSignal,
    includeType?: 'Medication',
  ): Promise<E.Either<FhirError, SearchPages>> => {
    let url: URL | undefined = client.resolve(`${resourceType}?${params.toString()}`);
    const matches: fhir4.FhirResource[] = [];
    const includes: fhir4.FhirResource[] = [];
    let total: number | null = null;
    let seen = 0;
    for (let page = 0; url !== undefined; page++) {
      if (page === maxPages) return E.left(fhirError('Rejected'));
      const body = await client.getJson(url, 'Rejected', signal);
      if (E.isLeft(body)) return body;
      const bundle = body.right as Partial<fhir4.Bundle> | null;
      const entries: unknown = bundle?.entry ?? [];
      const links: unknown = bundle?.link ?? [];
      if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'searchset' || !Array.isArray(entries) || !Array.isArray(links)) return invalid();
      if (!selfLinkKeepsPatient(client.base, links, patientId)) return invalid();
      if (page === 0 && typeof bundle.total === 'number') total = bundle.total;
      for (const entry of entries as unknown[]) {
        if (typeof entry !== 'object' || entry === null) return invalid();
        const { resource, search } = entry as Entry;
        const mode = search?.mode ?? 'match';
        if (mode === 'outcome' || resource?.resourceType === 'OperationOutcome') continue;
        if (mode === 'include') {
          if (resource === undefined || resource.resourceType !== includeType) return invalid();
          includes.push(resource);
          continue;
        }
        const subject: unknown = (resource as { subject?: { reference?: unknown } } | undefined)?.subject?.reference;
        if (resource?.resourceType !== resourceType || localReference(client.base, 'Patient', subject) !== `Patient/${patientId}`) return invalid();
        seen++;
        if (matches.length < keep) matches.push(resource);
      }
      const next: unknown = (links as fhir4.BundleLink[]).find((l) => l.relation === 'next')?.url;
      if (next !== undefined && (typeof next !== 'string' || !client.sameOrigin(next))) return invalid();
      if (matches.length >= keep && next !== undefined) return E.right({ matches, includes, total, more: true, seen });
      url = next === undefined ? undefined : new URL(next, client.base);
    }
    return E.right({ matches, includes, total: total ?? seen, more: seen > matches.length, seen });
  };

  return {
    readPatient: (patientId: PatientId) => async () => {
      const id = revealPatientId(patientId);
      const body = await client.getJson(client.resolve(`Patient/${encodeURIComponent(id)}`), 'NotFound', deadline());
      if (E.isLeft(body)) return body;
      const patient = body.right as fhir4.Patient;
      return patient?.resourceType === 'Patient' && patient.id === id ? E.right(patient) : invalid();
    },

    searchObservations: ({ patientId, code, limit }) => async () => {
      const id = revealPatientId(patientId);
      const params = new URLSearchParams({ patient: id, code, _sort: '-date', _count: String(Math.min(limit, pageSize)) });
      const pages = await searchPages('Observation', params, id, limit, deadline());
      if (E.isLeft(pages)) return pages;
      const observations = pages.right.matches as fhir4.Observation[];
      // Defence in depth: the code searched for, whatever the server matched.
      const hasCode = (o: fhir4.Observation) =>
        Array.isArray(o.code?.coding) && o.code.coding.some((c) => c?.system === 'http://loinc.org' && c.code === loincCodeValue(code));
      if (!observations.every(hasCode)) return invalid();
      // Newest first, as asked: a server that ignored `_sort` would have handed over the wrong N.
      const dated = observations.map(effectiveTime).filter((t) => t !== Number.NEGATIVE_INFINITY);
      if (dated.some((t, i) => i > 0 && t > (dated[i - 1] as number))) return invalid();
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
      const signal = deadline();
      const pages = await searchPages('MedicationRequest', params, id, Number.POSITIVE_INFINITY, signal, 'Medication');
      if (E.isLeft(pages)) return pages;
      // Active only, even from a server that ignored `status=active`.
      const medicationRequests = (pages.right.matches as fhir4.MedicationRequest[]).filter((r) => r.status === 'active');
      const included = new Map((pages.right.includes as fhir4.Medication[]).map((m) => [`Medication/${m.id}`, m]));
      const referenced = [...new Set(medicationRequests.flatMap((r) => localReference(client.base, 'Medication', r.medicationReference?.reference) ?? []))];
      const missing = referenced.filter((ref) => !included.has(ref));
      if (missing.length > MAX_MEDICATION_READS) return E.left(fhirError('Rejected'));
      // Servers that ignore _include: read each missing Medication, four at a time, within the deadline.
      const read = new Map<string, fhir4.Medication>();
      for (let i = 0; i < missing.length; i += 4) {
        const batch = missing.slice(i, i + 4);
        const bodies = await Promise.all(batch.map((relative) => client.getJson(client.resolve(relative), 'Rejected', signal)));
        for (const [n, body] of bodies.entries()) {
          if (E.isLeft(body)) return body;
          const medication = body.right as fhir4.Medication | null;
          if (medication?.resourceType !== 'Medication' || `Medication/${medication.id}` !== batch[n]) return invalid();
          read.set(batch[n] as string, medication);
        }
      }
      const list: MedicationList = {
        medicationRequests,
        medications: referenced.map((ref) => (included.get(ref) ?? read.get(ref)) as fhir4.Medication),
      };
      return E.right(list);
    },
  };
};
