// Cold start, as a host pays it: spawn to `tools/list` answered, median of several runs, for the
// single-file build, the unbundled build, and the floor — a bare SDK server with one tool, as it is
// and bundled the same way as ours.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { build } from 'esbuild';
import { BIN_PATH, UNBUNDLED_BIN_PATH } from '@hipaa-fhir-mcp/server';

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
const out = (line = '') => process.stdout.write(`${line}\n`);
const work = await mkdtemp(join(tmpdir(), 'hfm-cold-'));
const env = { AUDIT_HMAC_KEY: 'ab'.repeat(32), AUDIT_LOG_FILE: join(work, 'audit.jsonl') };

const bare = fileURLToPath(new URL('./bareServer.js', import.meta.url));
const bareBundled = join(work, 'bare.mjs');
await build({ entryPoints: [bare], outfile: bareBundled, bundle: true, platform: 'node', format: 'esm', target: 'node20', minify: true, logLevel: 'warning' });

const coldStart = async (script: string): Promise<number> => {
  const started = performance.now();
  const client = new Client({ name: 'cold-start', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [script], env, stderr: 'ignore' }));
  await client.listTools();
  const elapsed = performance.now() - started;
  await client.close();
  return elapsed;
};

const median = async (script: string): Promise<number> => {
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await coldStart(script));
  runs.sort((a, b) => a - b);
  return runs[Math.floor(runs.length / 2)] as number;
};

// Interleave nothing: each row's runs back to back, after one unmeasured start to warm the disk cache.
const rows: [string, string][] = [
  ['bare SDK server, one tool (the floor)', bare],
  ['bare SDK server, bundled the same way', bareBundled],
  ['hipaa-fhir-mcp, unbundled (dist/bin.js)', UNBUNDLED_BIN_PATH],
  ['hipaa-fhir-mcp, single file (dist/hipaa-fhir-mcp.mjs)', BIN_PATH],
];
const results = new Map<string, number>();
for (const [name, script] of rows) {
  await coldStart(script);
  results.set(name, await median(script));
}
const floor = results.get(rows[0]?.[0] as string) as number;
out(`cold start — spawn to tools/list answered, median of ${RUNS} runs`);
out();
out('| server | median | ratio to the floor |');
out('|---|---|---|');
for (const [name, value] of results) out(`| ${name} | ${value.toFixed(1)} ms | ${(value / floor).toFixed(2)}× |`);
out();
out(`target: the single file within 3× the floor — ${((results.get(rows[3]?.[0] as string) as number) / floor).toFixed(2)}×`);
await rm(work, { recursive: true });
