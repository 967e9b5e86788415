// The audit promise as a property, through the SDK's real client: for any sequence of calls and
// outcomes, records = calls that the sink accepted, data only with a record, and no id anywhere.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditError } from '@hipaa-fhir-mcp/core';
import { CONTRACT_PATIENT_A, CONTRACT_PATIENT_B, contractBundles, testDeps } from '@hipaa-fhir-mcp/core/testing';
import { makeBundleFhirRepository } from '@hipaa-fhir-mcp/fhir-files';
import { createMcpServer } from './mcpServer.js';

// Ids start with 'z' and are long, so that they cannot occur by chance in hex, UUIDs or fixed texts.
const unknownId = fc.stringMatching(/^[A-Za-z0-9.-]{9,63}$/).map((s) => `z${s}`);
const invalidId = fc.string({ unit: 'grapheme', minLength: 9, maxLength: 200 }).map((s) => `z/${s}`);
const patientId = fc.oneof(fc.constantFrom(CONTRACT_PATIENT_A, CONTRACT_PATIENT_B), unknownId, invalidId);
const step = fc.record({
  tool: fc.constantFrom('get_patient', 'search_observations', 'get_medication_list'),
  patientId,
  code: fc.constantFrom('8867-4', 'http://loinc.org|8302-2', 'not-a-code'),
  sinkFails: fc.boolean(),
});

describe('the audit invariant through the MCP SDK client', () => {
  it('holds for any sequence of calls and outcomes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const deps = testDeps({ fhir: makeBundleFhirRepository(contractBundles()) });
        const mcp = createMcpServer({ name: 't', version: '0', deps });
        const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
        await mcp.server.connect(serverSide);
        const client = new Client({ name: 'p', version: '0' });
        await client.connect(clientSide);

        const texts: string[] = [];
        let accepted = 0;
        for (const s of steps) {
          deps.audit.failWith = s.sinkFails ? auditError('WriteFailed', true) : undefined;
          const args = s.tool === 'search_observations' ? { patient_id: s.patientId, code: s.code } : { patient_id: s.patientId };
          const before = deps.audit.records.length;
          const result = (await client.request({ method: 'tools/call', params: { name: s.tool, arguments: args } }, CallToolResultSchema)) as CallToolResult;
          const written = deps.audit.records.length - before;
          expect(written).toBe(s.sinkFails ? 0 : 1);
          accepted += written;
          if (s.sinkFails) expect(result.isError).toBe(true);
          if (!result.isError) expect(deps.audit.records.at(-1)?.request_id).toBe((result.structuredContent as { request_id: string }).request_id);
          if (result.isError) texts.push(JSON.stringify(result));
        }
        await client.close();

        expect(deps.audit.records).toHaveLength(accepted);
        const sinks = JSON.stringify(deps.audit.records) + texts.join('');
        for (const s of steps) {
          for (const form of [s.patientId, encodeURIComponent(s.patientId), JSON.stringify(s.patientId).slice(1, -1)]) {
            if (form.length >= 8) expect(sinks).not.toContain(form);
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});
