// KEY_PROVIDER=kms end to end: `hipaa-fhir-mcp keys create` makes the key inside a (local, SigV4-
// verifying) KMS, the stdio server decrypts it once at start and serves, and `audit verify` pins the
// checkpoint signer through KMS too. No patient identifier is ever sent to KMS.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SigV4Endpoint, startLocalKms, TEST_KMS_KEY_ID } from '@hipaa-fhir-mcp/example-aws-local-endpoints';
import { BIN_PATH } from './wiring.js';

const credentials = { accessKeyId: 'AKIDKMSE2ETEST', secretAccessKey: 'kms-e2e-secret-made-for-this-test' };
const PATIENT = 'd66b5418-06cb-fc8a-8c13-85685b6ac939';
let kms: SigV4Endpoint;
let awsEnv: Record<string, string>;

beforeAll(async () => {
  kms = await startLocalKms(credentials);
  awsEnv = {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_KMS: kms.url,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
});
afterAll(async () => kms.close());

it('serves with a key that exists only as a KMS ciphertext, and audits verifiably', { timeout: 60_000 }, async () => {
  const created = await promisify(execFile)(process.execPath, [BIN_PATH, 'keys', 'create', '--kms-key-id', TEST_KMS_KEY_ID], {
    env: { PATH: process.env.PATH ?? '', ...awsEnv },
  });
  const ciphertext = created.stdout.trim();
  expect(ciphertext).toMatch(/^[A-Za-z0-9+/]+=*$/);
  expect(created.stderr).toContain('AUDIT_HMAC_KEY_CIPHERTEXT');

  const dir = await mkdtemp(join(tmpdir(), 'kms-e2e-'));
  const env = { ...awsEnv, KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT: ciphertext, AUDIT_LOG_FILE: join(dir, 'audit.jsonl') };
  const client = new Client({ name: 'kms-e2e', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN_PATH], env, stderr: 'ignore' }));
  expect((await client.callTool({ name: 'get_patient', arguments: { patient_id: PATIENT } })).isError).toBeFalsy();
  expect((await client.callTool({ name: 'get_medication_list', arguments: { patient_id: PATIENT } })).isError).toBeFalsy();
  await client.close();

  // The compliance officer's check, run as they would: the signer is pinned through KMS as well.
  const verified = await promisify(execFile)(process.execPath, [BIN_PATH, 'audit', 'verify', env.AUDIT_LOG_FILE], { env: { PATH: process.env.PATH ?? '', ...env } });
  expect(verified.stdout).toMatch(/^OK .* 2 records, chain intact, 1 signed checkpoints/);

  expect(kms.calls.map((c) => c.target)).toStrictEqual(['TrentService.GenerateDataKey', 'TrentService.Decrypt', 'TrentService.Decrypt']);
  expect(kms.calls.every((c) => c.signatureValid)).toBe(true);
  expect(JSON.stringify(kms.calls)).not.toContain(PATIENT);
});

it('refuses to start on a ciphertext KMS will not decrypt, saying why, without echoing it', { timeout: 30_000 }, async () => {
  const bogus = Buffer.alloc(64, 7).toString('base64');
  const dir = await mkdtemp(join(tmpdir(), 'kms-bad-'));
  const run = promisify(execFile)(process.execPath, [BIN_PATH], {
    env: { PATH: process.env.PATH ?? '', ...awsEnv, KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT: bogus, AUDIT_LOG_FILE: join(dir, 'a.jsonl') },
  });
  const failure = (await run.catch((e: unknown) => e)) as { code: number; stderr: string };
  expect(failure.code).toBe(2);
  expect(failure.stderr).toContain('AUDIT_HMAC_KEY_CIPHERTEXT: KMS refused to decrypt the audit key ciphertext (InvalidCiphertextException)');
  expect(failure.stderr).not.toContain(bogus);
});
