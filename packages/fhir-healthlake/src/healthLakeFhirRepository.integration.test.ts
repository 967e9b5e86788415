// fhir-healthlake through a SigV4-verifying HealthLake stand-in in front of the Medplum sandbox: the
// FhirRepository contract, every request validly signed, `_count` within HealthLake's 100, and no
// signature made for any other host.
import * as E from 'fp-ts/lib/Either.js';
import { expect, it } from 'vitest';
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
