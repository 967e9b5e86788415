// The demo: starts the real `hipaa-fhir-mcp` over stdio with the SDK client on the embedded data
// and a throwaway key, calls the three tools for one fixture patient, then checks the audit promise
// for real on the files it left: counts, plaintext identifiers, identifier shapes, HMACs recomputed.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';
import { findIdentifiers, findShapes, identifiersOfBundle } from '@hipaa-fhir-mcp/phi-sweep';
import { BIN_PATH } from '@hipaa-fhir-mcp/server';

/** An embedded patient who is alive and has Medications referenced through medicationReference. */
export const DEMO_PATIENT_ID = 'd66b5418-06cb-fc8a-8c13-85685b6ac939';

export interface Check {
  readonly check: string;
  readonly expected: string;
  readonly actual: string;
  readonly ok: boolean;
}

export interface DemoResult {
  readonly transcript: readonly string[];
  readonly checks: readonly Check[];
  readonly auditLog: string;
}

const count = (text: string, needle: string): number => (needle === '' ? 0 : text.split(needle).length - 1);

export const runDemo = async (): Promise<DemoResult> => {
  const workDir = await mkdtemp(join(tmpdir(), 'hipaa-fhir-mcp-demo-'));
  const auditLog = join(workDir, 'audit.jsonl');
  const key = randomBytes(32).toString('hex');
  const manifest = JSON.parse(await readFile(join(embeddedDataDir, '..', 'manifest.json'), 'utf8')) as { patients: { file: string; patient_id: string }[] };
  const file = manifest.patients.find((p) => p.patient_id === DEMO_PATIENT_ID)?.file as string;
  const bundle = JSON.parse(await readFile(join(embeddedDataDir, file), 'utf8')) as fhir4.Bundle;
  const patient = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource as fhir4.Patient;
  const patientId = patient.id as string;

  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN_PATH],
    env: { AUDIT_HMAC_KEY: key, AUDIT_LOG_FILE: auditLog, CALLER_IDENTITY: 'demo:newcomer' },
    cwd: workDir,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'hipaa-fhir-mcp-demo', version: '0.1.0' });
  await client.connect(transport);

  const transcript: string[] = [];
  const errorTexts: string[] = [];
  const call = async (name: string, args: Record<string, string>) => {
    const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
    if (result.isError) errorTexts.push(JSON.stringify(result.content));
    return result.structuredContent as Record<string, unknown>;
  };

  const { tools } = await client.listTools();
  transcript.push(`tools/list → ${tools.map((t) => t.name).join(', ')}`);

  const read = (await call('get_patient', { patient_id: patientId })).patient as fhir4.Patient;
  const name = read.name?.[0];
  transcript.push(`get_patient → ${[...(name?.given ?? []), name?.family].join(' ')}, born ${read.birthDate}, ${read.gender}`);

  const heart = await call('search_observations', { patient_id: patientId, code: '8867-4' });
  const latest = (heart.observations as fhir4.Observation[])[0];
  transcript.push(
    `search_observations 8867-4 (heart rate) → ${String(heart.total)} found, latest ${latest?.valueQuantity?.value} ${latest?.valueQuantity?.unit} on ${latest?.effectiveDateTime?.slice(0, 10)}`,
  );

  const meds = await call('get_medication_list', { patient_id: patientId });
  const medicationNames = (meds.medicationRequests as fhir4.MedicationRequest[]).map(
    (r) => r.medicationCodeableConcept?.text ?? r.medicationCodeableConcept?.coding?.[0]?.display ?? 'see medications',
  );
  transcript.push(
    `get_medication_list → ${medicationNames.length} active orders, ${(meds.medications as unknown[]).length} referenced Medications`,
  );
  await client.close();

  const log = await readFile(auditLog, 'utf8');
  const records = log.trimEnd().split('\n').map((line) => JSON.parse(line) as { patient_id_hmac: string });
  const expectedHmac = createHmac('sha256', Buffer.from(key, 'hex')).update(patientId, 'utf8').digest('hex');
  const ssn = patient.identifier?.find((i) => i.system === 'http://hl7.org/fhir/sid/us-ssn')?.value ?? '';
  const phone = patient.telecom?.find((t) => t.system === 'phone')?.value ?? '';
  const identifiers = identifiersOfBundle(bundle);
  const sweepFindings = [log, stderr, errorTexts.join('\n')].flatMap((text) => [...findIdentifiers(text, identifiers), ...findShapes(text)]);

  const row = (check: string, expected: number, actual: number): Check => ({ check, expected: String(expected), actual: String(actual), ok: expected === actual });
  const checks: Check[] = [
    row('audit lines added (one per tool call)', 3, records.length),
    row('records whose patient_id_hmac = HMAC-SHA-256(key, id), recomputed', 3, records.filter((r) => r.patient_id_hmac === expectedHmac).length),
    row('plaintext patient id in the audit log', 0, count(log, patientId)),
    row('SSN in the audit log', 0, count(log, ssn)),
    row('phone number in the audit log', 0, count(log, phone)),
    row(`PHI sweep findings (audit log, stderr, error texts; ${identifiers.length} identifiers + shapes)`, 0, sweepFindings.length),
    row('tool calls that failed', 0, errorTexts.length),
  ];
  return { transcript, checks, auditLog };
};

export const formatTable = (checks: readonly Check[]): string => {
  const width = Math.max(...checks.map((c) => c.check.length));
  const lines = checks.map((c) => `| ${c.check.padEnd(width)} | ${c.expected.padStart(8)} | ${c.actual.padStart(6)} | ${c.ok ? 'PASS' : 'FAIL'} |`);
  const header = `| ${'check'.padEnd(width)} | expected | actual | ok   |`;
  const rule = `|${'-'.repeat(width + 2)}|----------|--------|------|`;
  return [header, rule, ...lines].join('\n');
};
