// MCP over Streamable HTTP as an OAuth 2.1 resource server, against a real authorization server
// (oidc-provider) and the Medplum FHIR sandbox: valid tokens are served; expired, foreign, misaddressed,
// forged and under-scoped tokens, and other patients than the launch context, get 401/403 with a
// PHI-free body, each audited; the client's token never reaches the FHIR server.
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Deps, hmacKeyId, hmacPatientId } from '@hipaa-fhir-mcp/core';
import { makeMemoryAuditSink } from '@hipaa-fhir-mcp/core/testing';
import { type AuthorizationServer, freeLoopbackPort, startAuthorizationServer } from '@hipaa-fhir-mcp/example-oauth-authorization-server';
import { readFixtureBundles, type Sandbox, startSandbox } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { makeHttpFhirRepository } from '@hipaa-fhir-mcp/fhir-http';
import { grantIdentity } from './grantIdentity.js';
import { type McpHttpServer, type Refusal, startMcpHttpServer } from './httpServer.js';

let sandbox: Sandbox;
let as: AuthorizationServer;
let otherAs: AuthorizationServer;
let mcp: McpHttpServer;
let resource: string;
let patients: string[];
const audit = makeMemoryAuditSink();
const key = { bytes: randomBytes(32) };
const hmacKey = { id: hmacKeyId(key.bytes), bytes: key.bytes };
const refusals: { status: number; reason: Refusal }[] = [];

beforeAll(async () => {
  const bundles = await readFixtureBundles();
  sandbox = await startSandbox({ bundles: bundles.slice(0, 3) });
  patients = bundles.slice(0, 3).map((b) => b.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id as string);
  const port = await freeLoopbackPort();
  resource = `http://127.0.0.1:${port}/mcp`;
  const [alice] = patients as [string];
  as = await startAuthorizationServer({
    resource,
    clients: [
      { clientId: 'clinician', scope: 'user/*.rs openid', claims: { fhirUser: 'Practitioner/dr-1' } },
      { clientId: 'patient-app', scope: 'patient/*.rs', claims: { patient: alice, fhirUser: `Patient/${alice}` } },
      { clientId: 'patient-reader', scope: 'patient/Patient.rs', claims: { patient: alice, fhirUser: 'Practitioner/dr-2' } },
      { clientId: 'short-lived', scope: 'user/*.rs', claims: { fhirUser: 'Practitioner/dr-3' }, accessTokenTtl: 1 },
      // An EHR launch: user/ scopes and a patient in context.
      { clientId: 'ehr-launch', scope: 'user/*.rs launch', claims: { patient: alice, fhirUser: 'Practitioner/dr-4' } },
      { clientId: 'patient-sub', scope: 'patient/*.rs', claims: { patient: alice } },
    ],
  });
  otherAs = await startAuthorizationServer({ resource, clients: [{ clientId: 'clinician', scope: 'user/*.rs', claims: { fhirUser: 'Practitioner/dr-1' } }] });
  const deps: Deps = {
    fhir: makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, timeoutMs: 5_000 }),
    audit,
    identity: grantIdentity,
    keys: { hmacKey: () => TE.right(hmacKey) },
    clock: { now: () => new Date() },
    limits: { maxObservations: 100, patientOutput: 'minimum-necessary' },
    reportDefect: () => undefined,
  };
  mcp = await startMcpHttpServer({
    name: 'hipaa-fhir-mcp-test',
    version: '0.0.0',
    deps,
    port,
    auth: { issuer: as.issuer, resource, clockToleranceSeconds: 0 },
    allowedOrigins: ['https://app.clinic.example'],
    onRefused: (event) => void refusals.push(event),
  });
}, 60_000);
afterAll(async () => {
  await mcp?.close();
  await Promise.all([as?.close(), otherAs?.close(), sandbox?.close()]);
});

const connect = async (token: string) => {
  const client = new Client({ name: 'http-test', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
};

/** A raw JSON-RPC POST, to see status codes and headers as they are. */
const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(resource, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const toolCall = (name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } });
const lastRecord = () => audit.records.at(-1);

describe('MCP over HTTP as an OAuth 2.1 resource server', () => {
  it('publishes RFC 9728 metadata naming the authorization server, and challenges a request without a token', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const metadata = (await (await fetch(new URL(path, resource))).json()) as Record<string, unknown>;
      expect(metadata).toMatchObject({ resource, authorization_servers: [as.issuer], bearer_methods_supported: ['header'] });
      expect(metadata.scopes_supported).toContain('patient/Observation.rs');
    }
    const response = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="http://127.0.0.1:${new URL(resource).port}/.well-known/oauth-protected-resource/mcp"`);
    expect(await response.json()).toStrictEqual({ error: 'missing_token' });
  });

  it("serves a valid token through the SDK client, recording the token's user as the caller", async () => {
    const client = await connect(await as.token('clinician'));
    expect((await client.listTools()).tools.map((t) => t.name)).toStrictEqual(['get_patient', 'search_observations', 'get_medication_list']);
    for (const id of patients) {
      const result = (await client.callTool({ name: 'get_patient', arguments: { patient_id: id } })) as CallToolResult;
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { patient: fhir4.Patient }).patient.id).toBe(id);
    }
    await client.close();
    expect(audit.records.slice(-3).map((r) => [r.status, r.caller_identity, r.patient_id_hmac])).toStrictEqual(
      patients.map((id) => ['success', 'fhirUser:Practitioner/dr-1', hmacPatientId(hmacKey, id)]),
    );
  });

  it('limits a patient-context token to its patient: another is 403 and audited as denied; a Patient user only as an HMAC', async () => {
    const [alice, bob] = patients as [string, string];
    const token = await as.token('patient-app');
    const own = await post(toolCall('get_medication_list', { patient_id: alice }), { authorization: `Bearer ${token}` });
    expect(own.status).toBe(200);
    expect(lastRecord()).toMatchObject({ status: 'success', caller_identity: `fhirUser:Patient/hmac:${hmacPatientId(hmacKey, alice)}` });
    const other = await post(toolCall('get_patient', { patient_id: bob }), { authorization: `Bearer ${token}` });
    expect(other.status).toBe(403);
    const body = await other.text();
    expect(JSON.parse(body)).toStrictEqual({ error: 'patient_not_in_context', request_id: lastRecord()?.request_id });
    expect(lastRecord()).toMatchObject({ status: 'denied', error_code: 'patient_not_in_context', patient_id_hmac: hmacPatientId(hmacKey, bob), data_source: null });
    for (const id of [alice, bob]) expect(body + JSON.stringify(audit.records)).not.toContain(id);
  });

  it('limits an EHR-launch token (user/ scopes, a patient in context) to that patient too', async () => {
    const [alice, bob] = patients as [string, string];
    const token = await as.token('ehr-launch');
    expect((await post(toolCall('get_patient', { patient_id: alice }), { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await post(toolCall('get_patient', { patient_id: bob }), { authorization: `Bearer ${token}` })).status).toBe(403);
    expect(lastRecord()).toMatchObject({ status: 'denied', error_code: 'patient_not_in_context', caller_identity: 'fhirUser:Practitioner/dr-4' });
  });

  it("records a patient-facing token's sub only as an HMAC, and takes the scheme in any case", async () => {
    const [alice] = patients as [string];
    const response = await post(toolCall('get_patient', { patient_id: alice }), { authorization: `bearer ${await as.token('patient-sub')}` });
    expect(response.status).toBe(200);
    expect(lastRecord()?.caller_identity).toMatch(/^sub-hmac:[0-9a-f]{64}$/);
  });

  it('refuses a tool whose scope the token lacks with 403 insufficient_scope, naming the scope to ask for', async () => {
    const [alice] = patients as [string];
    const token = await as.token('patient-reader');
    expect((await post(toolCall('get_patient', { patient_id: alice }), { authorization: `Bearer ${token}` })).status).toBe(200);
    const response = await post(toolCall('search_observations', { patient_id: alice, code: '8867-4' }), { authorization: `Bearer ${token}` });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", scope="patient\/Observation\.rs", resource_metadata="/);
    expect(lastRecord()).toMatchObject({ tool: 'search_observations', status: 'denied', error_code: 'insufficient_scope', caller_identity: 'fhirUser:Practitioner/dr-2' });
  });

  it('refuses expired, foreign-issuer, other-audience and forged tokens with 401, each audited with no caller', async () => {
    const [alice] = patients as [string];
    const shortLived = await as.token('short-lived');
    const valid = await as.token('clinician');
    const [header, payload, signature] = valid.split('.') as [string, string, string];
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), scope: 'system/*.cruds' })).toString('base64url')}.${signature}`;
    const unsigned = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${payload}.`;
    const badSignature = `${header}.${payload}.${signature.slice(0, -4)}${signature.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const cases: [string, string][] = [
      ['expired', shortLived],
      ['wrong issuer', await otherAs.token('clinician')],
      ['wrong audience', await as.token('clinician', { resource: 'http://127.0.0.1:9/other-server' })],
      ['forged claims', forged],
      ['bad signature', badSignature],
      ['alg none', unsigned],
      ['not a JWT', 'opaque-token-value'],
    ];
    for (const [name, token] of cases) {
      const before = audit.records.length;
      const response = await post(toolCall('get_patient', { patient_id: alice }), { authorization: `Bearer ${token}` });
      expect([name, response.status]).toStrictEqual([name, 401]);
      expect(response.headers.get('www-authenticate'), name).toMatch(/^Bearer error="invalid_token", resource_metadata="/);
      const body = await response.text();
      expect(JSON.parse(body), name).toStrictEqual({ error: 'invalid_token', request_id: lastRecord()?.request_id });
      expect(body).not.toContain(alice);
      expect(audit.records.length, name).toBe(before + 1);
      expect(lastRecord(), name).toMatchObject({ status: 'denied', error_code: 'invalid_token', caller_identity: null, patient_id_hmac: hmacPatientId(hmacKey, alice) });
    }
    expect(JSON.stringify(audit.records)).not.toContain(valid.split('.')[2] as string);
  });

  it('never forwards the client token to the FHIR server', async () => {
    const token = await as.token('clinician');
    sandbox.requests.length = 0;
    await post(toolCall('search_observations', { patient_id: patients[0], code: '8867-4' }), { authorization: `Bearer ${token}` });
    expect(sandbox.requests.length).toBeGreaterThan(0);
    expect(sandbox.requests.every((r) => r.authorization === undefined)).toBe(true);
    expect(JSON.stringify(sandbox.requests)).not.toContain(token.split('.')[2] as string);
  });
});

describe('the HTTP boundary', () => {
  it('refuses another Host or Origin (DNS rebinding), and accepts an allowed Origin', async () => {
    const token = await as.token('clinician');
    const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    const { request } = await import('node:http');
    const withHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(resource, { method: 'POST', headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(JSON.stringify(list));
      });
    expect(await withHost('attacker.example')).toBe(403);
    expect(await withHost(`localhost:${new URL(resource).port}`)).toBe(200);
    expect((await post(list, { authorization: `Bearer ${token}`, origin: 'https://attacker.example' })).status).toBe(403);
    expect((await post(list, { authorization: `Bearer ${token}`, origin: 'https://app.clinic.example' })).status).toBe(200);
    expect(refusals.filter((r) => r.reason === 'forbidden_host' || r.reason === 'forbidden_origin')).toHaveLength(2);
  });

  it('caps the body, wants JSON, one message per request, and POST only', async () => {
    const auth = { authorization: `Bearer ${await as.token('clinician')}` };
    expect((await post('x'.repeat(2 * 1024 * 1024), auth)).status).toBe(413);
    expect((await post('{', auth)).status).toBe(400);
    expect((await post([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }], auth)).status).toBe(400);
    expect((await fetch(resource, { method: 'POST', headers: { 'content-type': 'text/plain', ...auth }, body: '{}' })).status).toBe(415);
    const get = await fetch(resource, { headers: auth });
    expect([get.status, get.headers.get('allow')]).toStrictEqual([405, 'POST']);
    expect((await fetch(new URL('/other', resource))).status).toBe(404);
  });

  it('answers 503 and audits identity_unavailable when the authorization server or its keys cannot be reached', async () => {
    const failingJwks = createHttpServer((_req, res) => res.writeHead(503).end('down')).listen(0, '127.0.0.1');
    await new Promise((resolve) => failingJwks.once('listening', resolve));
    const token = await as.token('clinician');
    for (const auth of [
      { issuer: 'http://127.0.0.1:9' }, // no metadata to be had
      { issuer: as.issuer, jwksUri: `http://127.0.0.1:${(failingJwks.address() as { port: number }).port}/jwks` }, // keys answer 503
    ]) {
      const port = await freeLoopbackPort();
      const unreachable = await startMcpHttpServer({ name: 't', version: '0', deps: { ...(await depsOf()), audit }, port, auth: { ...auth, resource: `http://127.0.0.1:${port}/mcp` } });
      const response = await fetch(unreachable.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify(toolCall('get_patient', { patient_id: patients[0] })),
      });
      expect([response.status, response.headers.get('retry-after')]).toStrictEqual([503, '5']);
      expect(lastRecord()).toMatchObject({ status: 'error', error_code: 'identity_unavailable', caller_identity: null });
      await unreachable.close();
    }
    failingJwks.close();
  });

  it('audits only tool calls: a tools/call notification with a bad token is refused but is no call', async () => {
    const before = audit.records.length;
    const notification = { jsonrpc: '2.0', method: 'tools/call', params: { name: 'get_patient', arguments: { patient_id: patients[0] } } };
    expect((await post(notification, { authorization: 'Bearer not-a-token' })).status).toBe(401);
    expect(audit.records.length).toBe(before);
  });

  it('answers 504 past the request deadline, and the call still runs to its audit record before close resolves', async () => {
    const port = await freeLoopbackPort();
    const slowAudit = makeMemoryAuditSink();
    const deps = { ...(await depsOf()), audit: slowAudit, fhir: makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, timeoutMs: 600 }) };
    const server = await startMcpHttpServer({ name: 't', version: '0', deps, port, auth: 'none', requestTimeoutMs: 300 });
    sandbox.injectFaults({ kind: 'hang' }); // the first FHIR attempt times out at 600 ms, the retry answers: past the deadline
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(toolCall('get_patient', { patient_id: patients[2] })),
    });
    expect(response.status).toBe(504);
    await server.close(50);
    expect(slowAudit.records.map((r) => r.tool)).toStrictEqual(['get_patient']);
  });

  it('drains requests in flight on close: they are answered, new ones are not accepted', async () => {
    const port = await freeLoopbackPort();
    const server = await startMcpHttpServer({ name: 't', version: '0', deps: await depsOf(), port, auth: 'none' });
    sandbox.injectFaults({ kind: 'status', status: 503 }); // the first FHIR request is retried after a pause
    const inFlight = fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(toolCall('get_patient', { patient_id: patients[1] })),
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = server.close();
    const answered = await inFlight;
    expect(answered.status).toBe(200);
    await closing;
    await expect(fetch(server.url, { method: 'POST', body: '{}' })).rejects.toThrow();
  });

  it('runs no tool for a request whose deadline passed while its token was checked, and closes promptly', async () => {
    // A JWKS that answers only after the request deadline.
    const slowJwks = createHttpServer((_req, res) => {
      setTimeout(() => void fetch(as.jwksUri).then(async (r) => res.writeHead(200, { 'content-type': 'application/json' }).end(await r.text())), 600);
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => slowJwks.once('listening', resolve));
    const port = await freeLoopbackPort();
    const quiet = makeMemoryAuditSink();
    const server = await startMcpHttpServer({
      name: 't',
      version: '0',
      deps: { ...(await depsOf()), audit: quiet, identity: grantIdentity },
      port,
      requestTimeoutMs: 300,
      auth: { issuer: as.issuer, resource: `http://127.0.0.1:${port}/mcp`, jwksUri: `http://127.0.0.1:${(slowJwks.address() as { port: number }).port}/jwks` },
    });
    const token = await as.token('clinician', { resource: `http://127.0.0.1:${port}/mcp` });
    sandbox.requests.length = 0;
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify(toolCall('get_patient', { patient_id: patients[0] })),
    });
    expect(response.status).toBe(504);
    const started = Date.now();
    await server.close(50);
    expect(Date.now() - started).toBeLessThan(5_000); // waits for the token check, not forever
    expect(quiet.records).toStrictEqual([]); // no tool ran: no call, no record, no FHIR read
    expect(sandbox.requests).toStrictEqual([]);
    slowJwks.close();
  });

  it('refuses to run without OAuth anywhere but loopback', async () => {
    await expect(startMcpHttpServer({ name: 't', version: '0', deps: await depsOf(), host: '0.0.0.0', auth: 'none' })).rejects.toThrow(/loopback/);
  });
});

const depsOf = async (): Promise<Deps> => ({
  fhir: makeHttpFhirRepository({ baseUrl: sandbox.baseUrl, timeoutMs: 5_000 }),
  audit: makeMemoryAuditSink(),
  identity: { identify: () => TE.right({ caller: 'local-test' as never, workload: null }) },
  keys: { hmacKey: () => TE.right(hmacKey) },
  clock: { now: () => new Date() },
  limits: { maxObservations: 100, patientOutput: 'minimum-necessary' },
  reportDefect: () => undefined,
});
