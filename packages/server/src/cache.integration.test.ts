// The encrypted PHI cache end to end: the built bin, spawned over stdio with CACHE_DIR, serves repeat
// reads from the cache (and says so in the audit record), keeps only HMAC-named 0600 files whose
// bytes hold no identifier, treats a tampered entry as a miss with a PHI-free warning, and
// `cache purge` empties it. With KEY_PROVIDER=kms, the KMS log lines up with the audit trail by HMAC.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SigV4Endpoint, startLocalKms, TEST_KMS_KEY_ID } from '@hipaa-fhir-mcp/example-aws-local-endpoints';
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';
import { findIdentifiers, type Identifier, identifiersOfBundle } from '@hipaa-fhir-mcp/phi-sweep';
import { BIN_PATH } from './wiring.js';

const PATIENT = 'd66b5418-06cb-fc8a-8c13-85685b6ac939';
const HEART_RATE = 'http://loinc.org|8867-4';
const run = promisify(execFile);

const fixtureIdentifiers = async (): Promise<Identifier[]> => {
  const ids: Identifier[] = [];
  for (const name of (await readdir(embeddedDataDir)).filter((n) => n.endsWith('.json'))) {
    ids.push(...identifiersOfBundle(JSON.parse(await readFile(join(embeddedDataDir, name), 'utf8'))));
  }
  return ids;
};

const auditRecords = async (path: string) =>
  (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { tool: string; patient_id_hmac: string; status: string; data_source: string | null });

/** A spawned server and the SDK client; its stderr is kept. */
const start = async (env: Record<string, string>) => {
  let stderr = '';
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN_PATH], env, stderr: 'pipe' });
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'cache-e2e', version: '0' });
  await client.connect(transport);
  const call = async (name: string, args: Record<string, unknown>) => {
    const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
    expect(result.isError, name).toBeFalsy();
    const { request_id: _each, ...data } = result.structuredContent as { request_id: string };
    return data;
  };
  return { client, call, stderr: () => stderr };
};

const threeTools = [
  ['get_patient', { patient_id: PATIENT }],
  ['search_observations', { patient_id: PATIENT, code: HEART_RATE }],
  ['get_medication_list', { patient_id: PATIENT }],
] as const;

describe('the PHI cache, local data keys', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cache-e2e-'));
    env = {
      AUDIT_HMAC_KEY: randomBytes(32).toString('hex'),
      AUDIT_LOG_FILE: join(dir, 'audit.jsonl'),
      CACHE_DIR: join(dir, 'cache'),
      CACHE_MASTER_KEY: randomBytes(32).toString('hex'),
      CALLER_IDENTITY: 'cache-e2e',
    };
    server = await start(env);
  });
  afterAll(async () => server.client.close());

  it('serves the second read of each tool from the cache, the same data, and records where it came from', { timeout: 30_000 }, async () => {
    const first = [];
    for (const [tool, args] of threeTools) first.push(await server.call(tool, args));
    const second = [];
    for (const [tool, args] of threeTools) second.push(await server.call(tool, args));
    expect(second).toStrictEqual(first);
    const records = await auditRecords(env.AUDIT_LOG_FILE as string);
    expect(records.map((r) => [r.tool, r.data_source])).toStrictEqual([
      ['get_patient', 'fhir'],
      ['search_observations', 'fhir'],
      ['get_medication_list', 'fhir'],
      ['get_patient', 'cache'],
      ['search_observations', 'cache'],
      ['get_medication_list', 'cache'],
    ]);
  });

  it('keeps 0600 files named by the HMACs alone, with no identifier in any name or byte', async () => {
    const cacheDir = env.CACHE_DIR as string;
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    const files = await readdir(cacheDir);
    const [record] = await auditRecords(env.AUDIT_LOG_FILE as string);
    expect(files).toHaveLength(3);
    const identifiers = await fixtureIdentifiers();
    for (const file of files) {
      expect(file).toMatch(new RegExp(`^${record?.patient_id_hmac}\\.[0-9a-f]{64}\\.phc$`));
      expect((await stat(join(cacheDir, file))).mode & 0o777).toBe(0o600);
      const bytes = await readFile(join(cacheDir, file));
      expect(findIdentifiers(`${file}\n${bytes.toString('latin1')}`, identifiers)).toStrictEqual([]);
      expect(bytes.includes(Buffer.from(PATIENT))).toBe(false);
      expect(bytes.includes(Buffer.from('8867-4'))).toBe(false);
    }
  });

  it('treats a tampered entry as a miss with a PHI-free warning, and serves from FHIR', { timeout: 30_000 }, async () => {
    const cacheDir = env.CACHE_DIR as string;
    for (const file of await readdir(cacheDir)) {
      const bytes = await readFile(join(cacheDir, file));
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
      await writeFile(join(cacheDir, file), bytes);
    }
    for (const [tool, args] of threeTools) await server.call(tool, args);
    const records = await auditRecords(env.AUDIT_LOG_FILE as string);
    expect(records.slice(-3).map((r) => r.data_source)).toStrictEqual(['fhir', 'fhir', 'fhir']);
    const warnings = server.stderr().split('\n').filter((line) => line.includes('"cache_warning"'));
    expect(warnings).toHaveLength(3);
    for (const line of warnings) expect(JSON.parse(line)).toMatchObject({ event: 'cache_warning', warning: 'entry_rejected', level: 'warn' });
    expect(server.stderr()).not.toContain(PATIENT);
  });

  it('`cache purge` removes every entry, however old; the next read goes to FHIR', { timeout: 30_000 }, async () => {
    const longAgo = new Date(Date.now() - 60_000);
    for (const file of await readdir(env.CACHE_DIR as string)) await utimes(join(env.CACHE_DIR as string, file), longAgo, longAgo);
    const purged = await run(process.execPath, [BIN_PATH, 'cache', 'purge'], { env: { PATH: process.env.PATH ?? '', CACHE_DIR: env.CACHE_DIR as string } });
    expect(purged.stdout).toBe('Removed 3 cache entries.\n');
    expect(await readdir(env.CACHE_DIR as string)).toStrictEqual([]);
    await server.call('get_patient', { patient_id: PATIENT });
    expect((await auditRecords(env.AUDIT_LOG_FILE as string)).at(-1)?.data_source).toBe('fhir');
    const unset = (await run(process.execPath, [BIN_PATH, 'cache', 'purge'], { env: { PATH: process.env.PATH ?? '' } }).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect([unset.code, unset.stderr]).toStrictEqual([2, 'cache purge: CACHE_DIR is not set; it names the cache directory, as for the server.\n']);
    const typo = (await run(process.execPath, [BIN_PATH, 'cache', 'purge'], { env: { PATH: process.env.PATH ?? '', CACHE_DIR: `${env.CACHE_DIR}-typo` } }).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    expect([typo.code, typo.stderr]).toStrictEqual([1, 'cache purge: The cache directory does not exist.\n']);
  });
});

describe('the PHI cache shared by two configurations', () => {
  it('never serves one FHIR source\'s data to a server reading another, with the same keys and directory', { timeout: 30_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cache-shared-'));
    // Source B: the same patient id, another name.
    const otherSource = join(dir, 'source-b');
    await mkdir(otherSource);
    const file = (await readdir(embeddedDataDir)).find((name) => name.includes(PATIENT)) as string;
    const bundle = JSON.parse(await readFile(join(embeddedDataDir, file), 'utf8')) as fhir4.Bundle;
    const patient = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource as fhir4.Patient;
    patient.name = [{ family: 'Otherfamily', given: ['Othergiven'] }];
    await writeFile(join(otherSource, 'b.json'), JSON.stringify(bundle));
    const shared = {
      AUDIT_HMAC_KEY: randomBytes(32).toString('hex'),
      CACHE_MASTER_KEY: randomBytes(32).toString('hex'),
      CACHE_DIR: join(dir, 'cache'),
    };
    const nameFrom = async (env: Record<string, string>) => {
      const server = await start(env);
      const view = (await server.call('get_patient', { patient_id: PATIENT })) as { patient: fhir4.Patient };
      await server.client.close();
      return view.patient.name?.[0]?.family;
    };
    const embedded = await nameFrom({ ...shared, AUDIT_LOG_FILE: join(dir, 'a.jsonl') });
    expect(await nameFrom({ ...shared, AUDIT_LOG_FILE: join(dir, 'b.jsonl'), FHIR_DATA_DIR: otherSource })).toBe('Otherfamily');
    expect(await nameFrom({ ...shared, AUDIT_LOG_FILE: join(dir, 'a.jsonl') })).toBe(embedded);
    expect((await auditRecords(join(dir, 'b.jsonl'))).map((r) => r.data_source)).toStrictEqual(['fhir']);
    expect((await auditRecords(join(dir, 'a.jsonl'))).map((r) => r.data_source)).toStrictEqual(['fhir', 'cache']);
  });
});

describe('the PHI cache, KMS data keys', () => {
  const credentials = { accessKeyId: 'AKIDCACHEE2E', secretAccessKey: 'cache-e2e-secret-made-for-this-test' };
  let kms: SigV4Endpoint;
  beforeAll(async () => {
    kms = await startLocalKms(credentials);
  });
  afterAll(async () => kms.close());

  it('asks KMS with an encryption context of the patient HMAC alone, the same HMAC the audit record carries', { timeout: 60_000 }, async () => {
    const awsEnv = {
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_KMS: kms.url,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const ciphertext = (await run(process.execPath, [BIN_PATH, 'keys', 'create', '--kms-key-id', TEST_KMS_KEY_ID], { env: awsEnv })).stdout.trim();
    const dir = await mkdtemp(join(tmpdir(), 'cache-kms-'));
    const auditLog = join(dir, 'audit.jsonl');
    const server = await start({
      ...awsEnv,
      KEY_PROVIDER: 'kms',
      KMS_KEY_ID: TEST_KMS_KEY_ID,
      AUDIT_HMAC_KEY_CIPHERTEXT: ciphertext,
      AUDIT_LOG_FILE: auditLog,
      CACHE_DIR: join(dir, 'cache'),
    });
    const before = kms.calls.length; // keys create, and the audit key's Decrypt at start
    for (let round = 0; round < 3; round++) for (const [tool, args] of threeTools) await server.call(tool, args);
    await server.client.close();

    const records = await auditRecords(auditLog);
    expect(records.map((r) => r.data_source)).toStrictEqual(['fhir', 'fhir', 'fhir', ...Array(6).fill('cache')]);
    const cacheCalls = kms.calls.slice(before);
    // Data-key reuse: one GenerateDataKey seals all three entries, and the key held for sealing opens them.
    expect(cacheCalls.map((c) => c.target)).toStrictEqual(['TrentService.GenerateDataKey']);
    for (const c of cacheCalls) {
      expect(c.signatureValid).toBe(true);
      expect(c.body.EncryptionContext).toStrictEqual({ patient_id_hmac: records[0]?.patient_id_hmac });
      expect(c.body.KeyId).toBe(TEST_KMS_KEY_ID);
    }
    expect(JSON.stringify(kms.calls)).not.toContain(PATIENT);
  });
});
