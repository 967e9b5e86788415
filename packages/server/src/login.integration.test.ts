// `hipaa-fhir-mcp login` end to end: a SMART standalone launch against a real authorization server
// (oidc-provider), authorization code + PKCE S256 with a loopback redirect, discovered from the FHIR
// server's smart-configuration; then the stdio server reads FHIR with the user's own tokens and audits
// their fhirUser as the caller. The refresh token is never at rest in the clear.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthorizationServer, freeLoopbackPort, startAuthorizationServer } from '@hipaa-fhir-mcp/example-oauth-authorization-server';
import { readFixtureBundles, type Sandbox, startSandbox } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { BIN_PATH } from './wiring.js';

let as: AuthorizationServer;
let sandbox: Sandbox;
let patient: string;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  const bundles = (await readFixtureBundles()).slice(0, 1);
  patient = bundles[0]?.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id as string;
  // The FHIR server's base URL is the tokens' resource, so its port is chosen before either starts.
  const port = await freeLoopbackPort();
  const resource = `http://127.0.0.1:${port}/fhir`;
  as = await startAuthorizationServer({ resource, clients: [], loginClients: [{ clientId: 'hipaa-fhir-mcp-desktop', scope: 'user/Patient.rs user/Observation.rs user/MedicationRequest.rs user/Medication.rs' }] });
  sandbox = await startSandbox({
    bundles,
    port,
    smartLogin: { issuer: as.issuer, authorizationEndpoint: as.authorizationEndpoint, tokenEndpoint: as.tokenEndpoint, jwksUri: as.jwksUri },
  });
  dir = await mkdtemp(join(tmpdir(), 'login-e2e-'));
  env = {
    PATH: process.env.PATH ?? '',
    AUDIT_HMAC_KEY: randomBytes(32).toString('hex'),
    AUDIT_LOG_FILE: join(dir, 'audit.jsonl'),
    FHIR_BASE_URL: sandbox.baseUrl,
    FHIR_AUTH: 'smart-user',
    SMART_CLIENT_ID: 'hipaa-fhir-mcp-desktop',
    SMART_LOGIN_FILE: join(dir, 'login', 'smart-login'),
  };
}, 60_000);
afterAll(async () => Promise.all([as?.close(), sandbox?.close()]));

const login = async (user: string): Promise<{ code: number | null; stderr: string }> => {
  const child = spawn(process.execPath, [BIN_PATH, 'login'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const deadline = Date.now() + 15_000;
  while (!/https?:\/\/\S+\/auth\?\S+/.test(stderr) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  const authorizeUrl = /https?:\/\/\S+\/auth\?\S+/.exec(stderr)?.[0] as string;
  // Another local process probing the loopback port does not end (or spoil) the sign-in.
  const redirectUri = new URL(new URL(authorizeUrl).searchParams.get('redirect_uri') as string);
  expect((await fetch(new URL('/callback?error=access_denied', redirectUri))).status).toBe(400);
  expect((await fetch(new URL('/callback?code=injected&state=guess', redirectUri))).status).toBe(400);
  const redirect = await as.signInAs(authorizeUrl, user); // the user's browser, signing in and consenting
  expect(redirect.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect((await fetch(redirect)).status).toBe(200); // the browser lands on the loopback redirect
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr };
};

it('signs a user in with PKCE S256 and a loopback redirect, then reads FHIR as that user', { timeout: 60_000 }, async () => {
  const first = await login('dr-who');
  expect(first.code).toBe(0);
  const authorizeUrl = new URL(/https?:\/\/\S+\/auth\?\S+/.exec(first.stderr)?.[0] as string);
  expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authorizeUrl.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(authorizeUrl.searchParams.get('aud')).toBe(sandbox.baseUrl);
  expect(first.stderr).toContain('Signed in as fhirUser:Practitioner/dr-who');

  // At rest: 0600, and no refresh token, user or client in the clear.
  const sealed = await readFile(env.SMART_LOGIN_FILE as string);
  expect((await stat(env.SMART_LOGIN_FILE as string)).mode & 0o777).toBe(0o600);
  for (const text of ['dr-who', 'hipaa-fhir-mcp-desktop', 'refresh']) expect(sealed.includes(Buffer.from(text))).toBe(false);

  sandbox.requests.length = 0;
  const client = new Client({ name: 'login-e2e', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN_PATH], env, stderr: 'ignore' }));
  expect((await client.callTool({ name: 'get_patient', arguments: { patient_id: patient } })).isError).toBeFalsy();
  await client.close();
  const fhirReads = sandbox.requests.filter((r) => r.url.includes('/Patient/'));
  expect(fhirReads.length).toBeGreaterThan(0);
  expect(fhirReads.every((r) => /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(r.authorization ?? ''))).toBe(true); // the user's JWT access token
  const records = (await readFile(env.AUDIT_LOG_FILE as string, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(records.map((r) => [r.status, r.caller_identity])).toStrictEqual([['success', 'fhirUser:Practitioner/dr-who']]);
  // The authorization server rotated the refresh token, and the server kept the new one.
  expect((await readFile(env.SMART_LOGIN_FILE as string)).equals(sealed)).toBe(false);
});

it('lets two servers share one login: each refresh holds the login and uses the token at rest, so neither presents a used one', { timeout: 60_000 }, async () => {
  let n = 0;
  const start = async () => {
    const client = new Client({ name: 'login-shared', version: '0' });
    // One audit log per server (a log has one writer); one login file for all.
    const own = { ...env, AUDIT_LOG_FILE: join(dir, `shared-${(n += 1)}.jsonl`) };
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN_PATH], env: own, stderr: 'ignore' }));
    return client;
  };
  const [first, second] = await Promise.all([start(), start()]);
  const results = await Promise.all([first, second].map((client) => client.callTool({ name: 'get_patient', arguments: { patient_id: patient } })));
  expect(results.map((r) => r.isError ?? false)).toStrictEqual([false, false]);
  await Promise.all([first.close(), second.close()]);
  // And a third start still works: the grant was not revoked for a reused refresh token.
  const third = await start();
  expect((await third.callTool({ name: 'get_patient', arguments: { patient_id: patient } })).isError).toBeFalsy();
  await third.close();
});

it("keeps each signed-in user's cached results their own", { timeout: 60_000 }, async () => {
  const cached = { ...env, CACHE_DIR: join(dir, 'cache'), CACHE_MASTER_KEY: randomBytes(32).toString('hex') };
  const sources = async (log: string, calls: number): Promise<unknown[]> => {
    const client = new Client({ name: 'login-cache', version: '0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN_PATH], env: { ...cached, AUDIT_LOG_FILE: join(dir, log) }, stderr: 'ignore' }));
    for (let i = 0; i < calls; i++) await client.callTool({ name: 'get_patient', arguments: { patient_id: patient } });
    await client.close();
    return (await readFile(join(dir, log), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { caller_identity: string; data_source: string }));
  };
  expect(await sources('cache-a.jsonl', 2)).toMatchObject([{ data_source: 'fhir' }, { data_source: 'cache' }]);
  expect((await login('dr-house')).code).toBe(0); // another user signs in on the same machine
  expect(await sources('cache-b.jsonl', 2)).toMatchObject([
    { caller_identity: 'fhirUser:Practitioner/dr-house', data_source: 'fhir' }, // not dr-who's cached result
    { caller_identity: 'fhirUser:Practitioner/dr-house', data_source: 'cache' },
  ]);
});

it('refuses to start on a login sealed under another key or tampered with, naming what to do', { timeout: 30_000 }, async () => {
  const run = (overrides: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN_PATH], { env: { ...env, ...overrides }, stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  const otherKey = await run({ AUDIT_HMAC_KEY: randomBytes(32).toString('hex'), AUDIT_LOG_FILE: join(dir, 'other.jsonl') });
  expect(otherKey.code).toBe(2);
  expect(otherKey.stderr).toContain('SMART_LOGIN_FILE: holds no login for this FHIR server, client and audit key: run hipaa-fhir-mcp login');
  const tampered = Buffer.from(await readFile(env.SMART_LOGIN_FILE as string));
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
  const tamperedFile = join(dir, 'tampered');
  await writeFile(tamperedFile, tampered, { mode: 0o600 });
  expect((await run({ SMART_LOGIN_FILE: tamperedFile, AUDIT_LOG_FILE: join(dir, 'tampered.jsonl') })).code).toBe(2);
});
