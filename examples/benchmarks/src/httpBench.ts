// `pnpm bench` (HTTP): the built bin serving MCP over Streamable HTTP with OAuth on loopback, loaded
// by autocannon at 64 connections with a real authorization server's token: requests/s and p99,
// then the audit log checked (one record per request) and swept, with stderr, for every identifier.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freeLoopbackPort, startAuthorizationServer } from '@hipaa-fhir-mcp/example-oauth-authorization-server';
import { readBundleDir } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';
import { findIdentifiers, identifiersOfBundle } from '@hipaa-fhir-mcp/phi-sweep';
import { BIN_PATH } from '@hipaa-fhir-mcp/server';

const REQUESTS = Number(process.env.BENCH_HTTP_REQUESTS ?? 10_000);
const CONNECTIONS = 64;
const out = (line = '') => process.stdout.write(`${line}\n`);

const port = await freeLoopbackPort();
const resource = `http://127.0.0.1:${port}/mcp`;
const as = await startAuthorizationServer({ resource, clients: [{ clientId: 'bench', scope: 'user/*.rs', claims: { fhirUser: 'Practitioner/bench-1' } }] });
const shm = await mkdtemp('/dev/shm/hfm-http-bench-');
const auditLog = join(shm, 'audit.jsonl');
const server = spawn(process.execPath, [BIN_PATH, 'serve', '--http'], {
  env: { PATH: process.env.PATH ?? '', AUDIT_HMAC_KEY: randomBytes(32).toString('hex'), AUDIT_LOG_FILE: auditLog, HTTP_PORT: String(port), OAUTH_ISSUER: as.issuer, OAUTH_RESOURCE: resource },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let stderr = '';
server.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
while (!stderr.includes('"http_listening"')) {
  if (server.exitCode !== null) throw new Error(`the server did not start:\n${stderr}`);
  await new Promise((resolve) => setTimeout(resolve, 20));
}

const bundles = await readBundleDir(embeddedDataDir);
const ids = bundles.map((b) => b.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id as string);
const token = await as.token('bench');
const bodies = ids.flatMap((id) => [
  { name: 'get_patient', arguments: { patient_id: id } },
  { name: 'search_observations', arguments: { patient_id: id, code: '8867-4' } },
  { name: 'get_medication_list', arguments: { patient_id: id } },
]);
const result = await autocannon({
  url: resource,
  connections: CONNECTIONS,
  amount: REQUESTS,
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
  requests: bodies.map((params, i) => ({ body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params }) })),
});

// The floor: a bare SDK server, stateless Streamable HTTP too, answering a constant — no OAuth, no audit, no FHIR.
const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { createServer: createHttpServer } = await import('node:http');
const bare = createHttpServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const mcp = new McpServer({ name: 'bare', version: '0' });
    mcp.registerTool('echo', {}, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true });
    res.on('close', () => void mcp.close());
    void mcp.connect(transport).then(() => transport.handleRequest(req, res, JSON.parse(Buffer.concat(chunks).toString())));
  });
}).listen(0, '127.0.0.1');
await new Promise((resolve) => bare.once('listening', resolve));
const floor = await autocannon({
  url: `http://127.0.0.1:${(bare.address() as { port: number }).port}/mcp`,
  connections: CONNECTIONS,
  amount: REQUESTS,
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } }),
});
bare.close();

server.kill('SIGTERM');
await new Promise((resolve) => server.on('exit', resolve));
await as.close();
const records = (await readFile(auditLog, 'utf8')).split('\n').filter((line) => line !== '');
const successes = records.filter((line) => line.includes('"status":"success"')).length;
const identifiers = bundles.flatMap((bundle) => identifiersOfBundle(bundle));
const hits = findIdentifiers(`${records.join('\n')}\n${stderr}`, identifiers).length;

out(`hipaa-fhir-mcp over Streamable HTTP with OAuth — ${REQUESTS} tool calls, ${CONNECTIONS} connections, loopback; node ${process.version}`);
out('(the built bin, `serve --http`; JWT verified per request; embedded data; audit log on tmpfs, O_DSYNC with group commit)');
out();
out('| server | requests/s (mean) | p50 | p99 | 2xx | non-2xx | errors | audit records | of them success | identifier hits |');
out('|---|---|---|---|---|---|---|---|---|---|');
out(
  `| hipaa-fhir-mcp, OAuth + audit + FHIR (embedded data) | ${result.requests.average.toFixed(0)} | ${result.latency.p50} ms | ${result.latency.p99} ms | ${result['2xx']} | ${result.non2xx} | ${result.errors} | ${records.length} | ${successes} | ${hits} |`,
);
out(`| bare SDK server, a constant (the floor) | ${floor.requests.average.toFixed(0)} | ${floor.latency.p50} ms | ${floor.latency.p99} ms | ${floor['2xx']} | ${floor.non2xx} | ${floor.errors} | — | — | — |`);
out(`throughput ${(result.requests.average / floor.requests.average).toFixed(2)}× the floor; p99 ${(result.latency.p99 / floor.latency.p99).toFixed(2)}× the floor`);
out(`audit records ${records.length === result['2xx'] + result.non2xx ? 'equal' : 'DO NOT EQUAL'} requests answered (${result['2xx'] + result.non2xx})`);
if (records.length !== result['2xx'] + result.non2xx || hits > 0 || result.errors > 0) process.exitCode = 1;
