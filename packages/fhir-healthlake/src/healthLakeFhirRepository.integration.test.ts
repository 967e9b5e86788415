// fhir-healthlake through a SigV4-verifying HealthLake stand-in in front of the Medplum sandbox: the
// FhirRepository contract, every request validly signed, `_count` within HealthLake's 100, and no
// signature made for any other host; credentials from the default provider chain, renewed as they expire.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as E from 'fp-ts/lib/Either.js';
import { expect, it, vi } from 'vitest';
import { fhirError, PatientId } from '@hipaa-fhir-mcp/core';
import { fhirRepositoryContract } from '@hipaa-fhir-mcp/core/testing';
import { type HealthLakeProxy, startHealthLakeProxy } from '@hipaa-fhir-mcp/example-aws-local-endpoints';
import { startSandbox } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { healthLakeEndpoint, healthLakeSigV4Auth, makeHealthLakeFhirRepository } from './healthLakeFhirRepository.js';

const credentials = { accessKeyId: 'AKIDHEALTHLAKE', secretAccessKey: 'healthlake-secret-made-for-this-test' };
const proxies: HealthLakeProxy[] = [];

fhirRepositoryContract('fhir-healthlake through a SigV4-verifying data store', async (bundles) => {
  const sandbox = await startSandbox({ bundles, defaultPageSize: 2 });
  const proxy = await startHealthLakeProxy({ fhirBaseUrl: sandbox.baseUrl, credentials });
  proxies.push(proxy);
  const repository = await makeHealthLakeFhirRepository({ endpoint: proxy.baseUrl, region: 'us-east-1', credentials });
  return {
    repository,
    close: async () => {
      await proxy.close();
      await sandbox.close();
    },
  };
});

it('signed every request validly and kept _count within 100', () => {
  const seen = proxies.flatMap((p) => p.requests);
  expect(seen.length).toBeGreaterThan(8);
  expect(seen.filter((r) => !r.signatureValid)).toStrictEqual([]);
  expect(seen.every((r) => Number(new URL(r.path, 'http://x').searchParams.get('_count') ?? 0) <= 100)).toBe(true);
});

it('signs for the data store host only, and is refused with the wrong secret', async () => {
  const auth = await healthLakeSigV4Auth({ endpoint: healthLakeEndpoint('us-east-1', 'abc'), region: 'us-east-1', credentials });
  expect(E.isRight(await auth.headersFor(new URL('https://healthlake.us-east-1.amazonaws.com/datastore/abc/r4/Patient/x')))).toBe(true);
  expect(await auth.headersFor(new URL('https://attacker.example/datastore/abc/r4/Patient/x'))).toStrictEqual(E.left(fhirError('Rejected')));
  expect(await auth.headersFor(new URL('http://healthlake.us-east-1.amazonaws.com/datastore/abc/r4/Patient/x'))).toStrictEqual(E.left(fhirError('Rejected')));

  const sandbox = await startSandbox({ bundles: [] });
  const proxy = await startHealthLakeProxy({ fhirBaseUrl: sandbox.baseUrl, credentials });
  const wrong = await makeHealthLakeFhirRepository({ endpoint: proxy.baseUrl, region: 'us-east-1', credentials: { ...credentials, secretAccessKey: 'wrong' } });
  expect(await wrong.readPatient(PatientId.fromString('anyone') as PatientId)()).toStrictEqual(E.left(fhirError('AuthFailed')));
  expect(proxy.requests.at(-1)?.signatureValid).toBe(false);
  await proxy.close();
  await sandbox.close();
});

it('signs a query that repeats a parameter (as a next link may) so that the data store accepts it', async () => {
  const sandbox = await startSandbox({ bundles: [] });
  const proxy = await startHealthLakeProxy({ fhirBaseUrl: sandbox.baseUrl, credentials });
  const auth = await healthLakeSigV4Auth({ endpoint: proxy.baseUrl, region: 'us-east-1', credentials });
  const url = new URL(`${proxy.baseUrl}/Observation?patient=nobody&code=8302-2&code=29463-7&_count=10`);
  const headers = await auth.headersFor(url);
  if (E.isLeft(headers)) throw new Error('not signed');
  expect((await fetch(url, { headers: headers.right })).status).toBe(200);
  expect(proxy.requests.at(-1)?.signatureValid).toBe(true);
  await proxy.close();
  await sandbox.close();
});

it('takes renewed credentials from the default provider chain as the old ones expire', async () => {
  // A container credentials endpoint (as on ECS/EKS) hands out one-hour session keys. The clock is
  // moved past the first key's expiry (Date only; sockets and timers stay real), after which AWS
  // refuses that key: the repository must be signing with a key fetched anew.
  const issued = [
    { accessKeyId: 'ASIAFIRSTSESSION', secretAccessKey: 'first-session-secret' },
    { accessKeyId: 'ASIASECONDSESSION', secretAccessKey: 'second-session-secret' },
  ] as const;
  let current: 0 | 1 = 0;
  let fetched = 0;
  const credentialEndpoint = createServer((_request, response) => {
    fetched += 1;
    const { accessKeyId, secretAccessKey } = issued[current];
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ AccessKeyId: accessKeyId, SecretAccessKey: secretAccessKey, Token: `session-token-${current}`, Expiration: new Date(Date.now() + 3_600_000).toISOString() }));
  });
  await new Promise<void>((resolve) => credentialEndpoint.listen(0, '127.0.0.1', resolve));
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE']) vi.stubEnv(name, undefined);
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/credentials');
  vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/config');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.stubEnv('AWS_CONTAINER_CREDENTIALS_FULL_URI', `http://127.0.0.1:${(credentialEndpoint.address() as AddressInfo).port}/v2/credentials`);
  const sandbox = await startSandbox({ bundles: [] });
  const proxy = await startHealthLakeProxy({ fhirBaseUrl: sandbox.baseUrl, credentials: issued[0] });
  try {
    const repository = await makeHealthLakeFhirRepository({ endpoint: proxy.baseUrl, region: 'us-east-1' });
    const nobody = PatientId.fromString('nobody') as PatientId;
    // NotFound means the data store accepted the signature and answered; AuthFailed would mean it did not.
    expect(await repository.readPatient(nobody)()).toStrictEqual(E.left(fhirError('NotFound')));
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3_700_000);
    current = 1;
    proxy.credentials = issued[1]; // the first session's key has expired
    expect(await repository.readPatient(nobody)()).toStrictEqual(E.left(fhirError('NotFound')));
    expect(fetched).toBe(2);
    expect(proxy.requests.map((r) => r.signatureValid)).toStrictEqual([true, true]);
  } finally {
    vi.useRealTimers();
    vi.unstubAllEnvs();
    await proxy.close();
    await sandbox.close();
    await new Promise<void>((resolve) => credentialEndpoint.close(() => resolve()));
  }
});
