// fhir-http against a real FHIR engine (Medplum's, in the sandbox server): the contract suite, the
// embedded Synthea data across pages, and every injected fault.
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirError, type FhirRepository, type LoincCode, normaliseLoincCode, PatientId } from '@hipaa-fhir-mcp/core';
import { fhirRepositoryContract } from '@hipaa-fhir-mcp/core/testing';
import {
  type FixturePatient,
  generatedPatientId,
  generatePatientBundle,
  readFixtureBundles,
  readFixtureManifest,
  type Sandbox,
  startSandbox,
} from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { makeHttpFhirRepository } from './httpFhirRepository.js';

const id = (raw: string) => PatientId.fromString(raw) as PatientId;
const loinc = (code: string) => normaliseLoincCode(code) as LoincCode;

fhirRepositoryContract('fhir-http against the Medplum sandbox, 2 per page, _include honoured', async (bundles) => {
  const sandbox = await startSandbox({ bundles, defaultPageSize: 2 });
  return { repository: makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, pageSize: 2 }), close: sandbox.close };
});

fhirRepositoryContract('fhir-http against the Medplum sandbox holding the 16 fixture patients too', async (bundles) => {
  const sandbox = await startSandbox({ bundles: [...(await readFixtureBundles()), ...bundles], defaultPageSize: 3 });
  return { repository: makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, pageSize: 3 }), close: sandbox.close };
});

fhirRepositoryContract('fhir-http against the Medplum sandbox, _include ignored', async (bundles) => {
  const sandbox = await startSandbox({ bundles, honourInclude: false });
  return { repository: makeHttpFhirRepository({ baseUrl: sandbox.baseUrl }), close: sandbox.close };
});

describe('fhir-http on all 16 Synthea fixture patients, 10 per page', { timeout: 60_000 }, () => {
  let sandbox: Sandbox;
  let repository: FhirRepository;
  let manifest: readonly FixturePatient[];

  beforeAll(async () => {
    manifest = await readFixtureManifest();
    sandbox = await startSandbox({ bundles: await readFixtureBundles() });
    repository = makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, pageSize: 10 });
  });
  afterAll(async () => sandbox.close());

  it('reads every Observation of every code across pages, and only active medications', async () => {
    for (const row of manifest) {
      for (const [code, count] of Object.entries(row.observations_by_loinc)) {
        const found = await repository.searchObservations({ patientId: id(row.patient_id), code: loinc(code), limit: 1000 })();
        if (E.isLeft(found)) throw new Error(`search failed: ${found.left.reason}`);
        expect([code, found.right.observations.length, found.right.total, found.right.truncated]).toStrictEqual([code, count, count, false]);
      }
      const meds = await repository.searchActiveMedicationRequests(id(row.patient_id))();
      if (E.isLeft(meds)) throw new Error('medication search failed');
      expect(meds.right.medicationRequests).toHaveLength(row.medication_requests_active);
      expect(meds.right.medications).toHaveLength(row.active_with_medication_reference);
    }
  });

  it('stops paging once it has the limit, newest first, and says so', async () => {
    const before = sandbox.requests.length;
    const milton = 'd66b5418-06cb-fc8a-8c13-85685b6ac939';
    const found = await repository.searchObservations({ patientId: id(milton), code: loinc('8867-4'), limit: 15 })();
    if (E.isLeft(found)) throw new Error('search failed');
    expect(found.right.observations).toHaveLength(15);
    expect(found.right).toMatchObject({ total: 24, truncated: true });
    const dates = found.right.observations.map((o) => Date.parse(o.effectiveDateTime ?? ''));
    expect(dates).toStrictEqual([...dates].sort((a, b) => b - a));
    expect(sandbox.requests.length - before).toBe(2);
  });
});

describe('fhir-http on a generated patient with 2,500 heart rates', { timeout: 30_000 }, () => {
  let sandbox: Sandbox;
  let patientId: PatientId;
  beforeAll(async () => {
    const bundle = generatePatientBundle({ seed: 3, heartRates: 2500 });
    patientId = id(generatedPatientId(bundle));
    sandbox = await startSandbox({ bundles: [bundle] });
  });
  afterAll(async () => sandbox.close());

  it('asks for one page of the newest 100 and stops there', async () => {
    const before = sandbox.requests.length;
    const found = await makeHttpFhirRepository({ baseUrl: sandbox.baseUrl }).searchObservations({ patientId, code: loinc('8867-4'), limit: 100 })();
    if (E.isLeft(found)) throw new Error('search failed');
    expect(found.right.observations).toHaveLength(100);
    expect(found.right).toMatchObject({ total: 2500, truncated: true });
    expect(found.right.observations[0]?.effectiveDateTime).toBe('2026-01-01T00:00:00.000Z');
    expect(sandbox.requests.length - before).toBe(1);
  });

  it('follows ten next links for 1,000 at 100 a page, and refuses a chain longer than maxPages', async () => {
    const before = sandbox.requests.length;
    const found = await makeHttpFhirRepository({ baseUrl: sandbox.baseUrl }).searchObservations({ patientId, code: loinc('8867-4'), limit: 1000 })();
    if (E.isLeft(found)) throw new Error('search failed');
    expect(found.right.observations).toHaveLength(1000);
    expect(new Set(found.right.observations.map((o) => o.id)).size).toBe(1000);
    expect(sandbox.requests.length - before).toBe(10);
    const capped = makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, pageSize: 10, maxPages: 5 });
    expect(await capped.searchObservations({ patientId, code: loinc('8867-4'), limit: 1000 })()).toStrictEqual(E.left(fhirError('Rejected')));
  });
});

describe('fhir-http under faults', () => {
  const PATIENT = 'contract-a';
  let sandbox: Sandbox;
  let repository: FhirRepository;
  let foreign: Sandbox;

  beforeAll(async () => {
    const { contractBundles } = await import('@hipaa-fhir-mcp/core/testing');
    sandbox = await startSandbox({ bundles: contractBundles(), defaultPageSize: 2 });
    foreign = await startSandbox({ bundles: contractBundles() });
    repository = makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, timeoutMs: 400, retries: 2, retryBaseDelayMs: 20, maxRetryAfterMs: 1000, maxResponseBytes: 1024 * 1024, pageSize: 2 });
  });
  afterAll(async () => {
    await sandbox.close();
    await foreign.close();
  });

  const read = () => repository.readPatient(id(PATIENT))();
  const search = () => repository.searchObservations({ patientId: id(PATIENT), code: loinc('8867-4'), limit: 100 })();

  const cases: [string, Parameters<Sandbox['injectFaults']>, () => Promise<unknown>, unknown][] = [
    ['500 (not retried)', [{ kind: 'status', status: 500 }], read, E.left(fhirError('Unavailable'))],
    ['503 three times (retries exhausted)', [{ kind: 'status', status: 503 }, { kind: 'status', status: 503 }, { kind: 'status', status: 503 }], read, E.left(fhirError('Unavailable', true))],
    ['hang (timeouts, retried, then given up)', [{ kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' }], read, E.left(fhirError('Timeout', true))],
    ['socket reset three times', [{ kind: 'reset' }, { kind: 'reset' }, { kind: 'reset' }], read, E.left(fhirError('Unavailable', true))],
    ['malformed JSON', [{ kind: 'malformed-json' }], read, E.left(fhirError('InvalidResponse'))],
    ['HTML error page (a 502, retried)', [{ kind: 'html-error-page' }, { kind: 'html-error-page' }, { kind: 'html-error-page' }], read, E.left(fhirError('Unavailable', true))],
    ['the right Patient labelled text/plain', [{ kind: 'wrong-content-type' }], read, E.left(fhirError('InvalidResponse'))],
    ['a searchset whose entry is not an array', [{ kind: 'malformed-bundle' }], search, E.left(fhirError('InvalidResponse'))],
    ["another patient's entries under a self link that keeps the patient", [{ kind: 'foreign-entries' }], search, E.left(fhirError('InvalidResponse'))],
    ['a server that ignores _sort', [{ kind: 'ignore-sort' }], search, E.left(fhirError('InvalidResponse'))],
    ['a redirect loop within the origin', Array.from({ length: 6 }, () => ({ kind: 'redirect' as const, location: '/fhir/Patient/contract-a' })), read, E.left(fhirError('InvalidResponse'))],
    ['404 echoing the path', [{ kind: 'not-found-echoing-path' }], read, E.left(fhirError('NotFound'))],
    ['500 echoing the request URL', [{ kind: 'error-echoing-request' }], search, E.left(fhirError('Unavailable'))],
    ['the right Patient padded past the size cap', [{ kind: 'oversized', bytes: 8 * 1024 * 1024 }], read, E.left(fhirError('InvalidResponse'))],
    ['another patient in a read', [{ kind: 'wrong-patient' }], read, E.left(fhirError('InvalidResponse'))],
    ['a dropped patient parameter', [{ kind: 'drop-patient-param' }], search, E.left(fhirError('InvalidResponse'))],
    ['429 with a Retry-After over the cap', [{ kind: 'status', status: 429, retryAfterSeconds: 30 }], read, E.left(fhirError('Unavailable', true))],
  ];

  it.each(cases)('%s → a clean error', async (_label, faults, run, expected) => {
    sandbox.clearFaults();
    sandbox.injectFaults(...faults);
    expect(await run()).toStrictEqual(expected);
    sandbox.clearFaults();
    expect(E.isRight(await read())).toBe(true);
  });

  it('accepts the same padded Patient under a larger cap: the cap, not the body, refused it', async () => {
    sandbox.injectFaults({ kind: 'oversized', bytes: 8 * 1024 * 1024 });
    const roomy = makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, maxResponseBytes: 64 * 1024 * 1024 });
    expect(E.isRight(await roomy.readPatient(id(PATIENT))())).toBe(true);
  });

  it('keeps only active requests from a server that ignores status=active', async () => {
    sandbox.injectFaults({ kind: 'ignore-status' });
    // One page holds all four of the patient's requests, the stopped and completed ones included.
    const onePage = makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, pageSize: 10 });
    const meds = await onePage.searchActiveMedicationRequests(id(PATIENT))();
    if (E.isLeft(meds)) throw new Error('expected Right');
    expect(meds.right.medicationRequests.map((r) => r.status)).toStrictEqual(['active', 'active']);
    expect(meds.right.medications.map((m) => m.id)).toStrictEqual(['med-active']);
  });

  it('gives up at the call deadline, whatever retries remain', async () => {
    const hurried = makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, timeoutMs: 300, retries: 2, retryBaseDelayMs: 20, callDeadlineMs: 450 });
    sandbox.injectFaults({ kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' });
    const before = sandbox.requests.length;
    expect(await hurried.readPatient(id(PATIENT))()).toStrictEqual(E.left(fhirError('Timeout', true)));
    expect(sandbox.requests.length - before).toBe(2); // the third attempt never started
    sandbox.clearFaults();
  });

  it('refuses a next link that carries credentials, even on the same origin', async () => {
    const withCredentials = foreign.origin.replace('http://', 'http://user:secret@').replace(/:\d+$/, `:${new URL(sandbox.origin).port}`);
    sandbox.injectFaults({ kind: 'foreign-next-link', origin: withCredentials });
    expect(await search()).toStrictEqual(E.left(fhirError('InvalidResponse')));
  });

  it('recovers from a 503 and a 429 with a short Retry-After by retrying', async () => {
    sandbox.injectFaults({ kind: 'status', status: 503 }, { kind: 'status', status: 429, retryAfterSeconds: 1 });
    expect(E.isRight(await read())).toBe(true);
  });

  it('never contacts another origin: not through a next link, not through a redirect', async () => {
    const seenBefore = foreign.requests.length;
    sandbox.injectFaults({ kind: 'foreign-next-link', origin: foreign.origin });
    expect(await search()).toStrictEqual(E.left(fhirError('InvalidResponse')));
    sandbox.injectFaults({ kind: 'redirect', location: `${foreign.baseUrl}/Patient/${PATIENT}` });
    expect(await read()).toStrictEqual(E.left(fhirError('InvalidResponse')));
    expect(foreign.requests.length).toBe(seenBefore);
  });

  it('follows a redirect within the origin', async () => {
    sandbox.injectFaults({ kind: 'redirect', location: `${sandbox.baseUrl}/Patient/${PATIENT}` });
    expect(E.isRight(await read())).toBe(true);
  });

  it('has sent nothing but GETs to the FHIR server, whatever the faults (it cannot alter ePHI)', () => {
    expect(sandbox.requests.length).toBeGreaterThan(30);
    expect(sandbox.requests.filter((r) => r.method !== 'GET')).toStrictEqual([]);
  });

  it('sends the code token URL-encoded (patient ids cannot hold a character that needs it)', async () => {
    await repository.searchObservations({ patientId: id('a.b-c'), code: loinc('8867-4'), limit: 5 })();
    const last = sandbox.requests.at(-1)?.url ?? '';
    expect(last).toContain('patient=a.b-c&');
    expect(last).toContain('code=http%3A%2F%2Floinc.org%7C8867-4');
  });
});
