// The AWS production configuration — FHIR_BACKEND=healthlake, AUDIT_SINK=cloudwatch, KEY_PROVIDER=kms —
// against local endpoints that verify every request's SigV4 signature. Every call produces exactly
// one accepted log event, and no patient identifier appears in any request to CloudWatch or KMS.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyChain } from '@hipaa-fhir-mcp/core';
import {
  type HealthLakeProxy,
  type LocalCloudWatchLogs,
  type SigV4Endpoint,
  startHealthLakeProxy,
  startLocalCloudWatchLogs,
  startLocalKms,
  TEST_KMS_KEY_ID,
} from '@hipaa-fhir-mcp/example-aws-local-endpoints';
import { readBundleDir, type Sandbox, startSandbox } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';
import { BIN_PATH } from './wiring.js';

const credentials = { accessKeyId: 'AKIDAWSE2E', secretAccessKey: 'aws-e2e-secret-made-for-this-test' };
const PATIENTS = ['d66b5418-06cb-fc8a-8c13-85685b6ac939', 'f82f5556-260e-4ddd-83a0-9a93e0139732'];
let kms: SigV4Endpoint;
let logs: LocalCloudWatchLogs;
let sandbox: Sandbox;
let healthLake: HealthLakeProxy;
let env: Record<string, string>;
let serverEnv: Record<string, string>;
let production: Record<string, string>;

beforeAll(async () => {
  [kms, logs, sandbox] = await Promise.all([startLocalKms(credentials), startLocalCloudWatchLogs(credentials), startSandbox({ bundles: await readBundleDir(embeddedDataDir) })]);
  healthLake = await startHealthLakeProxy({ fhirBaseUrl: sandbox.baseUrl, credentials });
  env = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_KMS: kms.url,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  // KMS_KEY_ID names the key here (kms.integration.test.ts covers the --kms-key-id flag).
  const ciphertext = (await promisify(execFile)(process.execPath, [BIN_PATH, 'keys', 'create'], { env: { ...env, KMS_KEY_ID: TEST_KMS_KEY_ID } })).stdout.trim();
  // examples/aws/production.env, with the three services pointed at the local endpoints.
  production = Object.fromEntries(
    (await readFile(new URL('../../../examples/aws/production.env', import.meta.url), 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const keyFile = join(await mkdtemp(join(tmpdir(), 'aws-key-')), 'audit-key.b64');
  await writeFile(keyFile, `${ciphertext}\n`);
  const { HEALTHLAKE_DATASTORE_ID: _id, ...settings } = production;
  serverEnv = { ...env, ...settings, HEALTHLAKE_DATASTORE_ENDPOINT: healthLake.baseUrl, AUDIT_HMAC_KEY_CIPHERTEXT_FILE: keyFile };
});
afterAll(async () => Promise.all([kms.close(), logs.close(), healthLake.close().then(() => sandbox.close())]));

it('serves from HealthLake, with a KMS key and a CloudWatch audit stream: one accepted event per call, no identifier sent', { timeout: 60_000 }, async () => {
  const client = new Client({ name: 'aws-e2e', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN_PATH], env: serverEnv, stderr: 'ignore' }));
  let calls = 0;
  for (const id of PATIENTS) {
    for (const [name, args] of [['get_patient', { patient_id: id }], ['search_observations', { patient_id: id, code: '8302-2' }], ['get_medication_list', { patient_id: id }]] as const) {
      calls++;
      expect((await client.callTool({ name, arguments: args })).isError).toBeFalsy();
    }
  }
  calls++;
  expect((await client.callTool({ name: 'get_patient', arguments: { patient_id: '../x' } })).isError).toBe(true);
  await client.close();

  expect(logs.streams.size).toBe(1);
  const [stream] = [...logs.streams.entries()];
  expect(stream?.[0]).toMatch(/^\/hipaa-fhir-mcp\/audit\/hipaa-fhir-mcp\//);
  const messages = (stream?.[1] ?? []).map((e) => e.message);
  expect(messages).toHaveLength(calls);
  expect(verifyChain(messages).fault).toBeUndefined();
  expect([...kms.calls, ...logs.calls, ...healthLake.requests].every((c) => c.signatureValid)).toBe(true);
  expect(kms.calls.filter((c) => c.target.endsWith('.Decrypt')).map((c) => c.body.KeyId)).toStrictEqual([production.KMS_KEY_ID]); // pinned by production.env
  expect(healthLake.requests.length).toBeGreaterThanOrEqual(6); // the FHIR data came from the data store
  const sent = JSON.stringify([...kms.calls, ...logs.calls].map((c) => c.body));
  for (const id of PATIENTS) expect(sent).not.toContain(id);
});

it('on SIGTERM answers the calls in flight only once their events are accepted, flushes the batch and exits 0', { timeout: 60_000 }, async () => {
  const streamsBefore = new Set(logs.streams.keys());
  const child = spawn(process.execPath, [BIN_PATH], { env: serverEnv, stdio: 'pipe' });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`);
  while (!stdout.includes('"id":0')) await new Promise((r) => setTimeout(r, 10));
  const calls = Array.from({ length: 24 }, (_, n) => ({ jsonrpc: '2.0', id: n + 1, method: 'tools/call', params: { name: 'get_medication_list', arguments: { patient_id: PATIENTS[n % 2] } } }));
  child.stdin.write(calls.map((c) => `${JSON.stringify(c)}\n`).join(''));
  await new Promise((r) => setTimeout(r, 5)); // each call waits on HealthLake, then on the batch linger
  const answeredAtSignal = stdout.split('\n').length - 2; // the lines after initialize's answer
  child.kill('SIGTERM');
  expect(await new Promise<number | null>((resolve) => child.on('exit', resolve))).toBe(0);

  const answered = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { id: number; result?: { isError?: boolean } }).filter((m) => m.id > 0);
  expect(answered.length).toBeGreaterThan(answeredAtSignal); // some were in flight at the signal, and drained
  const streams = [...logs.streams.entries()].filter(([name]) => !streamsBefore.has(name));
  expect(streams).toHaveLength(1);
  const events = (streams[0]?.[1] ?? []).map((e) => JSON.parse(e.message) as { status: string });
  // Every answered call has its accepted event; none was acknowledged without one.
  expect(events).toHaveLength(answered.length);
  expect(events.filter((e) => e.status === 'success')).toHaveLength(answered.filter((m) => m.result !== undefined && m.result.isError !== true).length);
  expect(verifyChain((streams[0]?.[1] ?? []).map((e) => e.message)).fault).toBeUndefined();
});
