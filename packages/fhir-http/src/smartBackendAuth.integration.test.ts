// SMART Backend Services end to end against the sandbox's token endpoint, which verifies each
// client assertion against the client's registered JWKS. Keys are generated here, per run.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirError, PatientId } from '@hipaa-fhir-mcp/core';
import { contractBundles } from '@hipaa-fhir-mcp/core/testing';
import { type Sandbox, startSandbox } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { makeHttpFhirRepository } from './httpFhirRepository.js';
import { DEFAULT_SMART_SCOPES, smartBackendAuth, SmartKeyError } from './smartBackendAuth.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
const jwk = (key: KeyObject, kid: string, alg: string) => ({ ...key.export({ format: 'jwk' }), kid, alg, use: 'sig' });

const PATIENT = PatientId.fromString('contract-a') as PatientId;

describe('SMART Backend Services', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({
      bundles: contractBundles(),
      smart: {
        clients: [
          { clientId: 'rsa-client', jwks: { keys: [jwk(rsa.publicKey, 'rsa-1', 'RS384')] } },
          { clientId: 'ec-client', jwks: { keys: [jwk(ec.publicKey, 'ec-1', 'ES384')] } },
        ],
      },
    });
  });
  afterAll(async () => sandbox.close());

  const repositoryFor = (clientId: string, privateKeyPem: string, keyId: string) =>
    makeHttpFhirRepository({
      baseUrl: sandbox.baseUrl,
      auth: smartBackendAuth({ baseUrl: sandbox.baseUrl, clientId, privateKeyPem, keyId, scopes: DEFAULT_SMART_SCOPES, timeoutMs: 5000 }),
      retryBaseDelayMs: 10,
    });

  it.each([
    ['RS384', 'rsa-client', pem(rsa.privateKey), 'rsa-1'],
    ['ES384', 'ec-client', pem(ec.privateKey), 'ec-1'],
  ])('gets a token with a %s assertion, reuses it, and sends it to the FHIR origin only', async (_alg, clientId, key, kid) => {
    const repository = repositoryFor(clientId, key, kid);
    const start = sandbox.requests.length;
    for (let i = 0; i < 3; i++) expect(E.isRight(await repository.readPatient(PATIENT)())).toBe(true);
    const seen = sandbox.requests.slice(start);
    expect(seen.filter((r) => r.url.endsWith('/auth/token'))).toHaveLength(1);
    const fhirRequests = seen.filter((r) => r.url.includes('/fhir/Patient/'));
    expect(fhirRequests).toHaveLength(3);
    expect(fhirRequests.every((r) => r.authorization?.startsWith('Bearer '))).toBe(true);
    expect(seen.filter((r) => r.url.endsWith('/auth/token')).every((r) => r.authorization === undefined)).toBe(true);
  });

  it('renews an expired token once and carries on', async () => {
    const repository = repositoryFor('rsa-client', pem(rsa.privateKey), 'rsa-1');
    expect(E.isRight(await repository.readPatient(PATIENT)())).toBe(true);
    sandbox.expireTokens();
    const start = sandbox.requests.length;
    expect(E.isRight(await repository.readPatient(PATIENT)())).toBe(true);
    expect(sandbox.requests.slice(start).map((r) => new URL(r.url).pathname)).toStrictEqual([
      '/fhir/Patient/contract-a',
      '/auth/token',
      '/fhir/Patient/contract-a',
    ]);
  });

  it('is refused, with AuthFailed, when signing with a key the client did not register', async () => {
    expect(await repositoryFor('rsa-client', pem(other.privateKey), 'rsa-1').readPatient(PATIENT)()).toStrictEqual(
      E.left(fhirError('AuthFailed')),
    );
    expect(await repositoryFor('nobody', pem(rsa.privateKey), 'rsa-1').readPatient(PATIENT)()).toStrictEqual(E.left(fhirError('AuthFailed')));
  });

  it('refuses a token endpoint that is plain http off this machine, or that answers a non-bearer token', async () => {
    for (const advertisedTokenEndpoint of ['http://tokens.example.invalid/token', 'https://user:pw@tokens.example.invalid/token']) {
      const other = await startSandbox({
        bundles: contractBundles(),
        smart: { clients: [{ clientId: 'rsa-client', jwks: { keys: [jwk(rsa.publicKey, 'rsa-1', 'RS384')] } }], advertisedTokenEndpoint },
      });
      const repository = makeHttpFhirRepository({
        baseUrl: other.baseUrl,
        auth: smartBackendAuth({ baseUrl: other.baseUrl, clientId: 'rsa-client', privateKeyPem: pem(rsa.privateKey), keyId: 'rsa-1', timeoutMs: 2000 }),
      });
      expect(await repository.readPatient(PATIENT)()).toStrictEqual(E.left(fhirError('AuthFailed')));
      expect(other.requests.some((r) => r.url.includes('/fhir/Patient/'))).toBe(false);
      await other.close();
    }
  });

  it('is refused without any token', async () => {
    expect(await makeHttpFhirRepository({ baseUrl: sandbox.baseUrl }).readPatient(PATIENT)()).toStrictEqual(E.left(fhirError('AuthFailed')));
  });

  it('rejects keys SMART does not allow, with a clear message and no key material', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const make = (privateKeyPem: string) => () =>
      smartBackendAuth({ baseUrl: sandbox.baseUrl, clientId: 'x', privateKeyPem, keyId: 'k', scopes: '', timeoutMs: 1000 });
    expect(make(pem(p256.privateKey))).toThrow(new SmartKeyError('The SMART private key must be RSA (RS384) or EC P-384 (ES384).'));
    expect(make('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----')).toThrow(SmartKeyError);
  });
});
