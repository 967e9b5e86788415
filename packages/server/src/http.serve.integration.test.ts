// `hipaa-fhir-mcp serve --http` end to end: the built bin as an OAuth 2.1 resource server in front of
// a real authorization server, with its SPIFFE workload identity from spiffe-helper's files: tokens
// are checked, each call audited with the token's user and the server's SPIFFE ID, and SIGTERM drains.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthorizationServer, freeLoopbackPort, startAuthorizationServer } from '@hipaa-fhir-mcp/example-oauth-authorization-server';
import { makeLeaf, makeRootCa, pemOf } from '../../identity-spiffe/test/pki.js';
import { BIN_PATH } from './wiring.js';

const PATIENT = 'd66b5418-06cb-fc8a-8c13-85685b6ac939';
const SPIFFE_ID = 'spiffe://clinic.example/ns/prod/sa/hipaa-fhir-mcp';
let as: AuthorizationServer;
let resource: string;
let dir: string;

beforeAll(async () => {
  const port = await freeLoopbackPort();
  resource = `http://127.0.0.1:${port}/mcp`;
  as = await startAuthorizationServer({ resource, clients: [{ clientId: 'clinician', scope: 'user/*.rs', claims: { fhirUser: 'Practitioner/dr-1' } }] });
  dir = await mkdtemp(join(tmpdir(), 'serve-http-'));
  const now = new Date();
  const ca = await makeRootCa(now, 'clinic.example');
  await writeFile(join(dir, 'svid.pem'), pemOf(await makeLeaf(ca, now, SPIFFE_ID)));
  await writeFile(join(dir, 'bundle.pem'), pemOf(ca));
});
afterAll(async () => as?.close());

it('serves MCP over HTTP with OAuth, audits the token user and the SPIFFE ID, and drains on SIGTERM', { timeout: 60_000 }, async () => {
  const auditLog = join(dir, 'audit.jsonl');
  const env = {
    PATH: process.env.PATH ?? '',
    AUDIT_HMAC_KEY: randomBytes(32).toString('hex'),
    AUDIT_LOG_FILE: auditLog,
    HTTP_PORT: new URL(resource).port,
    OAUTH_ISSUER: as.issuer,
    OAUTH_RESOURCE: resource,
    WORKLOAD_IDENTITY: 'spiffe',
    SPIFFE_SVID_FILE: join(dir, 'svid.pem'),
    SPIFFE_BUNDLE_FILE: join(dir, 'bundle.pem'),
    SPIFFE_TRUST_DOMAIN: 'clinic.example',
  };
  const child = spawn(process.execPath, [BIN_PATH, 'serve', '--http'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const deadline = Date.now() + 20_000;
  while (!stderr.includes('"http_listening"') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  expect(stderr).toContain(`"url":"${resource}"`);

  const call = (token: string | undefined) =>
    fetch(resource, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'get_patient', arguments: { patient_id: PATIENT } } }),
    });
  expect((await call(undefined)).status).toBe(401);
  const served = await call(await as.token('clinician'));
  expect(served.status).toBe(200);
  expect(JSON.stringify(await served.json())).toContain(PATIENT);

  child.kill('SIGTERM');
  expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
  const records = (await readFile(auditLog, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(records.map((r) => [r.status, r.error_code, r.caller_identity, r.workload_identity])).toStrictEqual([
    ['denied', 'invalid_token', null, null],
    ['success', null, 'fhirUser:Practitioner/dr-1', SPIFFE_ID],
  ]);
  expect(stdout).toBe(''); // HTTP mode writes nothing to stdout
  expect(stderr).toContain('"event":"http_refused","status":401,"reason":"missing_token"');
  expect(stderr).toContain('"event":"server_stopped","reason":"signal"');
  expect(stderr).not.toContain(PATIENT);
});

it('refuses to start without its OAuth settings, or with a SPIFFE SVID from another trust domain', { timeout: 30_000 }, async () => {
  const base = { PATH: process.env.PATH ?? '', AUDIT_HMAC_KEY: randomBytes(32).toString('hex'), AUDIT_LOG_FILE: join(dir, 'refused.jsonl') };
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN_PATH, 'serve', '--http'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  const noOauth = await run(base);
  expect(noOauth.code).toBe(2);
  expect(noOauth.stderr).toContain('OAUTH_ISSUER: is required with serve --http');
  expect(noOauth.stderr).toContain('OAUTH_RESOURCE: is required with serve --http');
  const wideOpen = await run({ ...base, HTTP_AUTH: 'none', HTTP_HOST: '0.0.0.0' });
  expect(wideOpen.stderr).toContain('HTTP_AUTH: is none, which is allowed only on a loopback HTTP_HOST');
  const foreign = await run({
    ...base,
    OAUTH_ISSUER: as.issuer,
    OAUTH_RESOURCE: resource,
    WORKLOAD_IDENTITY: 'spiffe',
    SPIFFE_SVID_FILE: join(dir, 'svid.pem'),
    SPIFFE_BUNDLE_FILE: join(dir, 'bundle.pem'),
    SPIFFE_TRUST_DOMAIN: 'other.example',
  });
  expect(foreign.code).toBe(2);
  expect(foreign.stderr).toMatch(/SPIFFE_SVID_FILE: gave no valid X\.509-SVID \(.*wrong-trust-domain/);
});
