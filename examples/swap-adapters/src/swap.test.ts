// Runs the one bin under each environment file and checks what it serves and how it audits.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { BIN_PATH } from '@hipaa-fhir-mcp/server';

const HERE = new URL('../', import.meta.url).pathname;
const EMBEDDED_PATIENT = 'd66b5418-06cb-fc8a-8c13-85685b6ac939';
const CLINIC_PATIENT = 'clinic-patient-1';

const readEnvFile = async (name: string): Promise<Record<string, string>> =>
  Object.fromEntries(
    (await readFile(join(HERE, name), 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

const runWith = async (envFile: string, calls: (client: Client) => Promise<void>): Promise<unknown[]> => {
  const dir = await mkdtemp(join(tmpdir(), 'swap-'));
  await writeFile(join(dir, 'hmac.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
  const env = { ...(await readEnvFile(envFile)), AUDIT_HMAC_KEY_FILE: join(dir, 'hmac.key'), AUDIT_LOG_FILE: join(dir, 'audit.jsonl') };
  const client = new Client({ name: 'swap', version: '0.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN_PATH], env, cwd: HERE, stderr: 'ignore' }));
  await calls(client);
  await client.close();
  return (await readFile(join(dir, 'audit.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l));
};

describe('the same server, two environments', () => {
  it('embedded.env serves the embedded Synthea data', async () => {
    const records = await runWith('embedded.env', async (client) => {
      expect((await client.callTool({ name: 'get_patient', arguments: { patient_id: EMBEDDED_PATIENT } })).isError).toBeFalsy();
      expect((await client.callTool({ name: 'get_patient', arguments: { patient_id: CLINIC_PATIENT } })).isError).toBe(true);
    });
    expect(records.map((r) => (r as { caller_identity: string }).caller_identity)).toStrictEqual(['local:developer', 'local:developer']);
  });

  it("clinic.env serves the clinic's data, capped at two results", async () => {
    const records = await runWith('clinic.env', async (client) => {
      expect((await client.callTool({ name: 'get_patient', arguments: { patient_id: EMBEDDED_PATIENT } })).isError).toBe(true);
      const found = await client.callTool({ name: 'search_observations', arguments: { patient_id: CLINIC_PATIENT, code: '8867-4' } });
      expect(found.structuredContent).toMatchObject({ total: 3, truncated: true });
      expect((found.structuredContent as { observations: { id: string }[] }).observations.map((o) => o.id)).toStrictEqual(['clinic-obs-3', 'clinic-obs-2']);
    });
    expect(records).toMatchObject([
      { caller_identity: 'clinic-b:ward-terminal-7', error_code: 'patient_not_found' },
      { caller_identity: 'clinic-b:ward-terminal-7', status: 'success' },
    ]);
  });
});
