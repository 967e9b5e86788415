// The AWS production configuration, as far as it is built: KEY_PROVIDER=kms and AUDIT_SINK=cloudwatch,
// against local endpoints that verify every request's SigV4 signature. Every call produces exactly
// one accepted log event, and no patient identifier appears in any request to CloudWatch or KMS.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyChain } from '@hipaa-fhir-mcp/core';
import { type LocalCloudWatchLogs, type SigV4Endpoint, startLocalCloudWatchLogs, startLocalKms, TEST_KMS_KEY_ID } from '@hipaa-fhir-mcp/example-aws-local-endpoints';
import { BIN_PATH } from './wiring.js';

const credentials = { accessKeyId: 'AKIDAWSE2E', secretAccessKey: 'aws-e2e-secret-made-for-this-test' };
const PATIENTS = ['d66b5418-06cb-fc8a-8c13-85685b6ac939', 'f82f5556-260e-4ddd-83a0-9a93e0139732'];
let kms: SigV4Endpoint;
let logs: LocalCloudWatchLogs;
let env: Record<string, string>;

beforeAll(async () => {
  [kms, logs] = await Promise.all([startLocalKms(credentials), startLocalCloudWatchLogs(credentials)]);
  env = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_KMS: kms.url,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
});
afterAll(async () => Promise.all([kms.close(), logs.close()]));

it('serves with a KMS key and a CloudWatch audit stream: one accepted event per call, no identifier sent', { timeout: 60_000 }, async () => {
  const ciphertext = (await promisify(execFile)(process.execPath, [BIN_PATH, 'keys', 'create', '--kms-key-id', TEST_KMS_KEY_ID], { env })).stdout.trim();
  const serverEnv = { ...env, KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT: ciphertext, AUDIT_SINK: 'cloudwatch', AUDIT_LOG_GROUP: 'hipaa-fhir-mcp-audit' };
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

  const [stream] = [...logs.streams.entries()];
  expect(stream?.[0]).toMatch(/^hipaa-fhir-mcp-audit\/hipaa-fhir-mcp\//);
  const messages = (stream?.[1] ?? []).map((e) => e.message);
  expect(messages).toHaveLength(calls);
  expect(verifyChain(messages).fault).toBeUndefined();
  expect([...kms.calls, ...logs.calls].every((c) => c.signatureValid)).toBe(true);
  const sent = JSON.stringify([...kms.calls, ...logs.calls].map((c) => c.body));
  for (const id of PATIENTS) expect(sent).not.toContain(id);
});
