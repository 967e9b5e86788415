// The stdio server against a FHIR server over HTTP (the Medplum sandbox): every tool, every injected
// fault, one audit record per call, and neither a patient identifier nor the bearer token in the
// audit log, stderr or any error text.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fault, readBundleDir, type Sandbox, startSandbox } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';
import { findIdentifiers, findShapes, identifiersOfBundle } from '@hipaa-fhir-mcp/phi-sweep';
import { BIN_PATH } from './wiring.js';

const MILTON = 'd66b5418-06cb-fc8a-8c13-85685b6ac939';
const TOKEN = `tok-${randomBytes(16).toString('hex')}`;

describe('hipaa-fhir-mcp with FHIR_BASE_URL, against the sandbox', { timeout: 60_000 }, () => {
  let sandbox: Sandbox;
  let foreign: Sandbox;
  let client: Client;
  let auditLog: string;
  let stderr = '';
  let calls = 0;
  const errorTexts: string[] = [];

  beforeAll(async () => {
    const bundles = await readBundleDir(embeddedDataDir);
    sandbox = await startSandbox({ bundles });
    foreign = await startSandbox({ bundles: [] });
    const dir = await mkdtemp(join(tmpdir(), 'hfm-http-'));
    auditLog = join(dir, 'audit.jsonl');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN_PATH],
      env: {
        AUDIT_HMAC_KEY: randomBytes(32).toString('hex'),
        AUDIT_LOG_FILE: auditLog,
        FHIR_BASE_URL: sandbox.baseUrl,
        FHIR_AUTH: 'bearer',
        FHIR_AUTH_TOKEN: TOKEN,
        FHIR_TIMEOUT_MS: '1500',
      },
      cwd: dir,
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    client = new Client({ name: 'http-e2e', version: '0' });
    await client.connect(transport);
  });
  afterAll(async () => {
    await client.close();
    await sandbox.close();
    await foreign.close();
  });

  const call = async (name: string, args: Record<string, unknown>): Promise<CallToolResult> => {
    calls++;
    const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
    if (result.isError) errorTexts.push((result.content[0] as { text: string }).text);
    return result;
  };

  it('serves the three tools over HTTP, with the bearer token sent to the FHIR server', async () => {
    expect((await call('get_patient', { patient_id: MILTON })).isError).toBeFalsy();
    const found = (await call('search_observations', { patient_id: MILTON, code: '8867-4' })).structuredContent;
    expect(found).toMatchObject({ total: 24, truncated: false });
    const meds = (await call('get_medication_list', { patient_id: MILTON })).structuredContent as { medications: unknown[] };
    expect(meds.medications).toHaveLength(3);
    expect(sandbox.requests.at(-1)?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  const faults: [Fault[], string, RegExp][] = [
    [[{ kind: 'status', status: 500 }], 'get_patient', /^The FHIR server is unavailable\./],
    [[{ kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' }], 'get_patient', /did not answer in time/],
    [[{ kind: 'reset' }, { kind: 'reset' }, { kind: 'reset' }], 'get_medication_list', /unavailable/],
    [[{ kind: 'malformed-json' }], 'get_patient', /could not be used/],
    [[{ kind: 'html-error-page' }, { kind: 'html-error-page' }, { kind: 'html-error-page' }], 'get_patient', /unavailable/],
    [[{ kind: 'not-found-echoing-path' }], 'get_patient', /^No patient with that id was found/],
    [[{ kind: 'error-echoing-request' }], 'search_observations', /unavailable/],
    [[{ kind: 'oversized', bytes: 20 * 1024 * 1024 }], 'get_patient', /could not be used/],
    // Queued for every attempt: answering without the patient filter means scanning everyone (slow).
    [[{ kind: 'drop-patient-param' }, { kind: 'drop-patient-param' }, { kind: 'drop-patient-param' }], 'search_observations', /could not be used/],
    [[{ kind: 'wrong-patient' }], 'get_patient', /could not be used/],
    [[{ kind: 'status', status: 401 }], 'get_patient', /authenticate/],
    [[{ kind: 'status', status: 429, retryAfterSeconds: 60 }], 'get_patient', /unavailable/],
  ];

  it.each(faults)('%j → a clean, audited error, and the server keeps serving', async (injected, tool, text) => {
    sandbox.clearFaults();
    sandbox.injectFaults(...injected);
    const result = await call(tool, tool === 'search_observations' ? { patient_id: MILTON, code: '8867-4' } : { patient_id: MILTON });
    expect(result.isError).toBe(true);
    expect((result.content[0] as { text: string }).text).toMatch(text);
    sandbox.clearFaults();
    expect((await call('get_patient', { patient_id: MILTON })).isError).toBeFalsy();
  });

  it('never contacts another origin', async () => {
    sandbox.injectFaults({ kind: 'redirect', location: `${foreign.baseUrl}/Patient/${MILTON}` });
    expect((await call('get_patient', { patient_id: MILTON })).isError).toBe(true);
    sandbox.injectFaults({ kind: 'foreign-next-link', origin: foreign.origin });
    expect((await call('search_observations', { patient_id: MILTON, code: '8302-2' })).isError).toBe(true);
    expect(foreign.requests).toHaveLength(0);
  });

  it('wrote one record per call, and no identifier or token reached the audit log, stderr or an error text', async () => {
    const records = (await readFile(auditLog, 'utf8')).trimEnd().split('\n');
    expect(records).toHaveLength(calls);
    const identifiers = [
      ...(await readBundleDir(embeddedDataDir)).flatMap((b) => identifiersOfBundle(b)),
      { label: 'bearer-token', value: TOKEN },
    ];
    for (const [sink, text] of Object.entries({ audit: records.join('\n'), stderr, errors: errorTexts.join('\n') })) {
      expect([sink, findIdentifiers(text, identifiers), findShapes(text)]).toStrictEqual([sink, [], []]);
    }
    expect(stderr).toContain('"fhir_backend":"http"');
  });
});
