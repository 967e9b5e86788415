// The MCP conformance suite (@modelcontextprotocol/conformance 0.1.13) against mcp-http on loopback:
// every scenario must pass except those in conformance-baseline.yml, each listed with its reason.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { expect, it } from 'vitest';
import { hmacKeyId } from '@hipaa-fhir-mcp/core';
import { makeMemoryAuditSink } from '@hipaa-fhir-mcp/core/testing';
import { embeddedDataDir, makeFilesFhirRepository } from '@hipaa-fhir-mcp/fhir-files';
import { startMcpHttpServer } from './httpServer.js';

const conformanceBin = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/conformance/package.json')), 'dist', 'index.js');
const baseline = fileURLToPath(new URL('../conformance-baseline.yml', import.meta.url));

it('passes the MCP conformance suite, but for the scenarios its baseline lists', { timeout: 240_000 }, async () => {
  const bytes = new Uint8Array(32).fill(7);
  const audit = makeMemoryAuditSink();
  const server = await startMcpHttpServer({
    name: 'hipaa-fhir-mcp',
    version: '0.0.0',
    auth: 'none', // the suite's server scenarios do not do OAuth; the OAuth tests are in httpServer.integration.test.ts
    deps: {
      fhir: makeFilesFhirRepository({ dir: embeddedDataDir }),
      audit,
      identity: { identify: () => TE.right({ caller: 'conformance-suite' as never, workload: null }) },
      keys: { hmacKey: () => TE.right({ id: hmacKeyId(bytes), bytes }) },
      clock: { now: () => new Date() },
      limits: { maxObservations: 100, patientOutput: 'minimum-necessary' },
      reportDefect: () => undefined,
    },
  });
  const outputDir = await mkdtemp(join(tmpdir(), 'conformance-'));
  const result = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, [conformanceBin, 'server', '--url', server.url, '--expected-failures', baseline, '-o', outputDir], { timeout: 220_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: `${stdout}${stderr}` }),
    );
  });
  await server.close();
  const passed = ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection'];
  for (const scenario of passed) expect(result.output).toMatch(new RegExp(`✓ ${scenario}: [1-9]\\d* passed, 0 failed`));
  expect(result.output).not.toContain('Unexpected failures');
  expect(result.output).not.toMatch(/stale/i);
  expect(result.code).toBe(0);
});
