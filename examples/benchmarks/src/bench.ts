// `pnpm bench`: per-call latency and throughput of each tool over stdio against the local FHIR
// sandbox, next to the same FHIR GETs made directly with got (the floor), as ratios; and the time
// and the server's peak RSS for search_observations on a patient with 20,000 Observations.
import { randomBytes } from 'node:crypto';
import { readFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import got from 'got';
import {
  generatedPatientId,
  generatePatientBundle,
  readBundleDir,
  startSandbox,
} from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';
import { BIN_PATH } from '@hipaa-fhir-mcp/server';
import { measure, ms, type Summary } from './stats.js';

const N = Number(process.env.BENCH_CALLS ?? 300);
const WARM_UP = 30;
const PATIENT = 'd66b5418-06cb-fc8a-8c13-85685b6ac939'; // Milton509: 24 heart rates, 3 referenced Medications
const out = (line = '') => process.stdout.write(`${line}\n`);

const peakRssMb = async (pid: number | null | undefined): Promise<number> => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
};

const startServer = async (env: Record<string, string>, bin = BIN_PATH) => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [bin], env, stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(transport);
  return { client, pid: transport.pid };
};

const big = generatePatientBundle({ seed: 20_000, heartRates: 20_000 });
const sandbox = await startSandbox({ bundles: [...(await readBundleDir(embeddedDataDir)), big] });
const base = sandbox.baseUrl;
const key = randomBytes(32).toString('hex');
const work = await mkdtemp(join(tmpdir(), 'hfm-bench-'));
const shm = await mkdtemp('/dev/shm/hfm-bench-');

const queries: Record<string, [string, Record<string, unknown>]> = {
  get_patient: [`Patient/${PATIENT}`, { patient_id: PATIENT }],
  search_observations: [
    `Observation?patient=${PATIENT}&code=${encodeURIComponent('http://loinc.org|8867-4')}&_sort=-date&_count=100`,
    { patient_id: PATIENT, code: '8867-4' },
  ],
  get_medication_list: [
    `MedicationRequest?patient=${PATIENT}&status=active&_include=MedicationRequest%3Amedication&_count=100`,
    { patient_id: PATIENT },
  ],
};

out(`hipaa-fhir-mcp benchmark — ${N} sequential calls per row after ${WARM_UP} warm-up calls; node ${process.version}`);
out(`FHIR server: the Medplum sandbox on loopback (${Object.keys(queries).length} tools on Milton509)`);
out();

const direct = got.extend({ headers: { accept: 'application/fhir+json' }, retry: { limit: 0 } });
const floors: Record<string, Summary> = {};
for (const [tool, [path]] of Object.entries(queries)) floors[tool] = await measure(N, WARM_UP, () => direct.get(`${base}/${path}`).json());

const bare = await startServer({}, new URL('./bareServer.js', import.meta.url).pathname);
const bareFloor = await measure(N, WARM_UP, () => bare.client.callTool({ name: 'echo', arguments: {} }));
await bare.client.close();

const rows: [string, Summary, Summary, Summary][] = [];
const tmpfsServer = await startServer({ AUDIT_HMAC_KEY: key, AUDIT_LOG_FILE: join(shm, 'audit.jsonl'), FHIR_BASE_URL: base });
const diskServer = await startServer({ AUDIT_HMAC_KEY: key, AUDIT_LOG_FILE: join(work, 'audit.jsonl'), FHIR_BASE_URL: base });
for (const [tool, [, args]] of Object.entries(queries)) {
  const viaTmpfs = await measure(N, WARM_UP, () => tmpfsServer.client.callTool({ name: tool, arguments: args }));
  const viaDisk = await measure(N, WARM_UP, () => diskServer.client.callTool({ name: tool, arguments: args }));
  rows.push([tool, floors[tool] as Summary, viaTmpfs, viaDisk]);
}

out(`Floors: a bare MCP SDK server over stdio answering a constant: p50 ${ms(bareFloor.p50)}, p99 ${ms(bareFloor.p99)}.`);
out();
out('| tool | direct GET p50 / p99 | MCP+audit p50 / p99 (fsync on tmpfs) | calls/s | ratio to GET | ratio to GET + bare MCP | MCP+audit p50 (fsync on disk) |');
out('|---|---|---|---|---|---|---|');
for (const [tool, floor, tmpfs, disk] of rows) {
  out(
    `| ${tool} | ${ms(floor.p50)} / ${ms(floor.p99)} | ${ms(tmpfs.p50)} / ${ms(tmpfs.p99)} | ${tmpfs.perSecond.toFixed(0)} | ` +
      `${(tmpfs.p50 / floor.p50).toFixed(2)}× | ${(tmpfs.p50 / (floor.p50 + bareFloor.p50)).toFixed(2)}× | ${ms(disk.p50)} |`,
  );
}
out();

const filesServer = await startServer({ AUDIT_HMAC_KEY: key, AUDIT_LOG_FILE: join(shm, 'files.jsonl') });
out('Embedded data (fhir-files), no network, fsync on tmpfs:');
for (const [tool, [, args]] of Object.entries(queries)) {
  const s = await measure(N, WARM_UP, () => filesServer.client.callTool({ name: tool, arguments: args }));
  out(`  ${tool}: p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, ${s.perSecond.toFixed(0)} calls/s`);
}
out();

const bigId = generatedPatientId(big);
const bigArgs = { patient_id: bigId, code: '8867-4' };
const rssBefore = await peakRssMb(tmpfsServer.pid);
const first = performance.now();
const firstResult = (await tmpfsServer.client.callTool({ name: 'search_observations', arguments: bigArgs })).structuredContent as { total: number; observations: unknown[] };
const firstMs = performance.now() - first;
const bigRuns = await measure(20, 0, () => tmpfsServer.client.callTool({ name: 'search_observations', arguments: bigArgs }));
const rssAfter = await peakRssMb(tmpfsServer.pid);
out(`search_observations on a generated patient with ${firstResult.total} heart rates (returns the newest ${firstResult.observations.length}):`);
out(`  first call ${ms(firstMs)} (includes the sandbox's one-off filter of 20,000 resources in Medplum); then p50 ${ms(bigRuns.p50)}, p99 ${ms(bigRuns.p99)} over ${bigRuns.n} calls`);
out(`  server peak RSS: ${rssBefore.toFixed(1)} MB before, ${rssAfter.toFixed(1)} MB after (limit 150 MB)`);

for (const server of [tmpfsServer, diskServer, filesServer]) await server.client.close();
await sandbox.close();
