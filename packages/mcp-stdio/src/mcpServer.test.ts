import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditError, hmacPatientId } from '@hipaa-fhir-mcp/core';
import {
  A_ACTIVE_MEDICATION,
  A_HEART_RATE_NEWEST_FIRST,
  CONTRACT_PATIENT_A,
  contractBundles,
  type MemoryAuditSink,
  testDeps,
  testHmacKey,
} from '@hipaa-fhir-mcp/core/testing';
import { makeBundleFhirRepository } from '@hipaa-fhir-mcp/fhir-files';
import { createMcpServer, type ToolCallEvent } from './mcpServer.js';

let client: Client;
let audit: MemoryAuditSink;
let events: ToolCallEvent[];

beforeEach(async () => {
  const deps = testDeps({ fhir: makeBundleFhirRepository(contractBundles()) });
  audit = deps.audit;
  events = [];
  const mcp = createMcpServer({ name: 'test', version: '0.0.0', deps, onToolCall: (e) => events.push(e) });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await mcp.server.connect(serverSide);
  client = new Client({ name: 'test-client', version: '0.0.0' });
  await client.connect(clientSide);
});
afterEach(async () => client.close());

const callTool = async (name: string, args: unknown): Promise<CallToolResult> =>
  (await client.request({ method: 'tools/call', params: { name, arguments: args as Record<string, unknown> } }, CallToolResultSchema)) as CallToolResult;

const textOf = (result: CallToolResult): string => (result.content[0] as { text: string }).text;

describe('tools/list', () => {
  it('lists the three tools with exact input schemas, output schemas and read-only annotations', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toStrictEqual(['get_patient', 'search_observations', 'get_medication_list']);
    for (const tool of tools) {
      expect(tool.title).toBeTruthy();
      expect(tool.description?.length).toBeGreaterThan(80);
      expect(tool.outputSchema?.type).toBe('object');
      expect(tool.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true, openWorldHint: false });
      expect(tool.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
    }
    expect(tools[1]?.inputSchema.required).toStrictEqual(['patient_id', 'code']);
  });
});

describe('tools/call through the real SDK client', () => {
  it('get_patient returns the Patient as structuredContent and the same JSON as text', async () => {
    const result = await client.callTool({ name: 'get_patient', arguments: { patient_id: CONTRACT_PATIENT_A } });
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { request_id: string; patient: fhir4.Patient };
    expect(structured.patient.id).toBe(CONTRACT_PATIENT_A);
    expect(JSON.parse(textOf(result as CallToolResult))).toStrictEqual(structured);
    expect(audit.records).toHaveLength(1);
    expect(audit.records[0]).toMatchObject({
      tool: 'get_patient',
      patient_id_hmac: hmacPatientId(testHmacKey, CONTRACT_PATIENT_A),
      request_id: structured.request_id,
      status: 'success',
      error_code: null,
    });
    expect(events).toMatchObject([{ tool: 'get_patient', status: 'success', errorCode: null }]);
  });

  it('search_observations returns newest first with total and truncated', async () => {
    const result = await client.callTool({ name: 'search_observations', arguments: { patient_id: CONTRACT_PATIENT_A, code: '8867-4' } });
    const structured = result.structuredContent as { observations: fhir4.Observation[]; total: number; truncated: boolean };
    expect(structured.observations.map((o) => o.id)).toStrictEqual([...A_HEART_RATE_NEWEST_FIRST]);
    expect(structured).toMatchObject({ total: 5, truncated: false });
  });

  it('get_medication_list returns active requests and their Medications', async () => {
    const result = await client.callTool({ name: 'get_medication_list', arguments: { patient_id: CONTRACT_PATIENT_A } });
    const structured = result.structuredContent as { medicationRequests: fhir4.MedicationRequest[]; medications: fhir4.Medication[] };
    expect(structured.medicationRequests.every((r) => r.status === 'active')).toBe(true);
    expect(structured.medications.map((m) => m.id)).toStrictEqual([A_ACTIVE_MEDICATION]);
  });

  it('answers a patient that does not exist with a clean, audited error', async () => {
    const result = await callTool('get_patient', { patient_id: 'no-such-patient' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^No patient with that id was found\. \(request_id: [0-9a-f-]{36}\)$/);
    expect(audit.records.map((r) => r.error_code)).toStrictEqual(['patient_not_found']);
  });

  const hugeId = 'x'.repeat(100_000);
  const malformed: [string, string, unknown, string][] = [
    ['empty patient_id', 'get_patient', { patient_id: '' }, 'Invalid patient_id'],
    ['path traversal', 'get_patient', { patient_id: '../Observation' }, 'Invalid patient_id'],
    ['query injection', 'get_medication_list', { patient_id: 'a?b=c' }, 'Invalid patient_id'],
    ['100 kB id', 'get_patient', { patient_id: hugeId }, 'Invalid patient_id'],
    ['number id', 'get_patient', { patient_id: 42 }, 'Invalid patient_id'],
    ['object id', 'get_patient', { patient_id: { $ne: null } }, 'Invalid patient_id'],
    ['missing patient_id', 'get_medication_list', {}, 'Invalid patient_id'],
    ['no arguments at all', 'get_patient', undefined, 'Invalid patient_id'],
    ['missing code', 'search_observations', { patient_id: 'pqz-input' }, 'Invalid code'],
    ['code of another system', 'search_observations', { patient_id: 'pqz-input', code: 'http://snomed.info/sct|8867-4' }, 'Invalid code'],
    ['100 kB code', 'search_observations', { patient_id: 'pqz-input', code: hugeId }, 'Invalid code'],
    ['extra field', 'get_patient', { patient_id: 'pqz-input', include: 'everything' }, 'Invalid arguments'],
    ['arguments not an object', 'get_patient', 'pqz-input', 'Invalid arguments'],
    ['arguments an array', 'get_patient', ['pqz-input'], 'Invalid arguments'],
  ];

  it.each(malformed)('%s → clean error, one audit record, and the server keeps serving', async (_label, tool, args, text) => {
    const result = await callTool(tool, args);
    expect(result.isError).toBe(true);
    expect(textOf(result).startsWith(text)).toBe(true);
    expect(textOf(result)).not.toContain('pqz-input'); // not hex: cannot occur in the request id by chance
    if (typeof args === 'object' && args !== null && 'patient_id' in args && typeof args.patient_id === 'string' && args.patient_id !== '') {
      expect(textOf(result)).not.toContain(args.patient_id);
    }
    expect(audit.records).toHaveLength(1);
    expect(audit.records[0]).toMatchObject({ tool, status: 'error', error_code: 'invalid_input' });
    const next = await client.callTool({ name: 'get_patient', arguments: { patient_id: CONTRACT_PATIENT_A } });
    expect(next.isError).toBeFalsy();
    expect(audit.records).toHaveLength(2);
  });

  it('refuses an unknown tool as a protocol error, without an audit record', async () => {
    await expect(callTool('delete_patient', { patient_id: CONTRACT_PATIENT_A })).rejects.toThrow(/Unknown tool/);
    expect(audit.records).toHaveLength(0);
  });

  it('returns no data when the audit sink fails (fail closed)', async () => {
    audit.failWith = auditError('WriteFailed', true);
    const result = await callTool('get_patient', { patient_id: CONTRACT_PATIENT_A });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toBeUndefined();
    expect(JSON.stringify(result)).not.toContain('Alpha');
    expect(textOf(result)).toMatch(/^The call could not be written to the audit log, so no data was returned/);
    audit.failWith = undefined;
    expect((await callTool('get_patient', { patient_id: CONTRACT_PATIENT_A })).isError).toBeFalsy();
  });
});
