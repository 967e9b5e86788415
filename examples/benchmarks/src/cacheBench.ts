// `pnpm bench` (PHI cache): a tool call served from the encrypted cache next to the same call read
// from the FHIR server, over stdio; and the KMS calls that 1,000 tool calls make with data-key reuse
// on and off (in process, through the real AWS SDK against the local SigV4-verifying KMS).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import * as E from 'fp-ts/lib/Either.js';
import { newCallContext, TOOLS, type ToolName } from '@hipaa-fhir-mcp/core';
import { makeMemoryAuditSink, staticIdentity, staticKeyProvider, testHmacKey } from '@hipaa-fhir-mcp/core/testing';
import { startLocalKms, TEST_KMS_KEY_ID } from '@hipaa-fhir-mcp/example-aws-local-endpoints';
import { readBundleDir, startSandbox } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { embeddedDataDir, makeFilesFhirRepository } from '@hipaa-fhir-mcp/fhir-files';
import { type DataKeySource, kmsDataKeySource, makeEncryptedPhiCache, makeFileCacheStore, reusingDataKeys } from '@hipaa-fhir-mcp/phi-cache';
import { BIN_PATH } from '@hipaa-fhir-mcp/server';
import { measure, ms } from './stats.js';

const N = Number(process.env.BENCH_CALLS ?? 300);
const WARM_UP = 30;
const TOOL_CALLS = 1_000;
const PATIENT = 'd66b5418-06cb-fc8a-8c13-85685b6ac939'; // Milton509
const out = (line = '') => process.stdout.write(`${line}\n`);
const work = await mkdtemp(join(tmpdir(), 'hfm-cache-bench-'));
const shm = await mkdtemp('/dev/shm/hfm-cache-bench-');

// 1. Cache hit vs FHIR read, end to end over stdio (the audit log on tmpfs for both).
const sandbox = await startSandbox({ bundles: await readBundleDir(embeddedDataDir) });
const key = randomBytes(32).toString('hex');
const startServer = async (env: Record<string, string>) => {
  const client = new Client({ name: 'cache-bench', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN_PATH], env, stderr: 'ignore' }));
  return client;
};
const common = { AUDIT_HMAC_KEY: key, FHIR_BASE_URL: sandbox.baseUrl };
const uncached = await startServer({ ...common, AUDIT_LOG_FILE: join(shm, 'uncached.jsonl') });
const cached = await startServer({ ...common, AUDIT_LOG_FILE: join(shm, 'cached.jsonl'), CACHE_DIR: join(work, 'cache'), CACHE_MASTER_KEY: randomBytes(32).toString('hex') });
const calls: [ToolName, Record<string, string>][] = [
  ['get_patient', { patient_id: PATIENT }],
  ['search_observations', { patient_id: PATIENT, code: '8867-4' }],
  ['get_medication_list', { patient_id: PATIENT }],
];
out(`hipaa-fhir-mcp PHI cache benchmark — ${N} sequential calls per row after ${WARM_UP} warm-up calls; node ${process.version}`);
out('FHIR server: the Medplum sandbox on loopback; cache on this machine\'s disk; local data keys with reuse');
out();
out('| tool | FHIR read p50 / p99 | cache hit p50 / p99 | cache hit / FHIR read (p50) |');
out('|---|---|---|---|');
for (const [tool, args] of calls) {
  const fromFhir = await measure(N, WARM_UP, () => uncached.callTool({ name: tool, arguments: args }));
  const fromCache = await measure(N, WARM_UP, () => cached.callTool({ name: tool, arguments: args }));
  out(`| ${tool} | ${ms(fromFhir.p50)} / ${ms(fromFhir.p99)} | ${ms(fromCache.p50)} / ${ms(fromCache.p99)} | ${(fromCache.p50 / fromFhir.p50).toFixed(2)}× |`);
}
const cachedRecords = (await readFile(join(shm, 'cached.jsonl'), 'utf8')).split('\n').filter((l) => l.includes('"data_source":"cache"')).length;
out(`(${cachedRecords} of the cached server's ${calls.length * (N + WARM_UP)} records say data_source "cache"; the first call of each tool read FHIR)`);
await uncached.close();
await cached.close();
await sandbox.close();
out();

// 2. KMS calls per 1,000 tool calls, with data-key reuse off and on: a seeded mix of the 16 patients,
// the three tools and three LOINC codes, read through the cache as in a long conversation.
const credentials = { accessKeyId: 'AKIDCACHEBENCH', secretAccessKey: 'cache-bench-secret-made-for-this-run' };
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const kms = await startLocalKms(credentials);
const kmsClient = new KMSClient(kms.clientConfig);
const patients = (await readdir(embeddedDataDir)).filter((n) => n.endsWith('.json')).length;
const bundles = await readBundleDir(embeddedDataDir);
const ids = bundles.map((b) => b.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id as string);
let seed = 7;
const next = (n: number) => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed % n;
};
const workload = Array.from({ length: TOOL_CALLS }, () => {
  const tool = (['get_patient', 'search_observations', 'get_medication_list'] as const)[next(3)] as ToolName;
  const patient_id = ids[next(ids.length)] as string;
  return { tool, args: tool === 'search_observations' ? { patient_id, code: ['8867-4', '8302-2', '29463-7'][next(3)] } : { patient_id } };
});

const runWorkload = async (reuse: boolean, storeName = reuse ? 'reuse' : 'no-reuse') => {
  const source = await kmsDataKeySource({ kms: kmsClient, kmsKeyId: TEST_KMS_KEY_ID });
  const dataKeys: DataKeySource = reuse ? reusingDataKeys(source, { maxAgeMs: 300_000, maxUses: 1_000 }) : source;
  const store = await makeFileCacheStore({ dir: join(work, `kms-${storeName}`), ttlMs: 300_000, maxBytes: 256 * 1024 ** 2 });
  const warnings: string[] = [];
  const audit = makeMemoryAuditSink();
  const deps = {
    fhir: makeFilesFhirRepository({ dir: embeddedDataDir }),
    audit,
    identity: staticIdentity('cache-bench'),
    keys: staticKeyProvider(testHmacKey),
    clock: { now: () => new Date() },
    limits: { maxObservations: 100, patientOutput: 'minimum-necessary' as const },
    cache: makeEncryptedPhiCache({ partition: 'files:embedded', store, dataKeys, ttlMs: 300_000, warn: (w) => void warnings.push(w) }),
    reportDefect: () => undefined,
  };
  const before = kms.calls.length;
  const samples: number[] = [];
  for (const { tool, args } of workload) {
    const t = performance.now();
    const result = await TOOLS[tool](args, newCallContext())(deps)();
    samples.push(performance.now() - t);
    if (E.isLeft(result)) throw new Error(`bench call failed: ${result.left._tag}`);
  }
  store.close();
  const made = kms.calls.slice(before);
  const count = (target: string) => made.filter((c) => c.target === `TrentService.${target}`).length;
  const hits = audit.records.filter((r) => r.data_source === 'cache').length;
  const p50 = [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] as number;
  return { generate: count('GenerateDataKey'), decrypt: count('Decrypt'), total: made.length, hits, p50, warnings: warnings.length };
};

const off = await runWorkload(false);
const on = await runWorkload(true);
// A new process on the same cache (a restart): it holds no key, so it unwraps each patient's once.
const restarted = await runWorkload(true, 'reuse');
await kms.close();
out(`KMS calls per ${TOOL_CALLS} tool calls (${patients} patients, the 3 tools, 3 LOINC codes, a seeded mix; in process, real AWS SDK, local SigV4 KMS):`);
out('| data-key reuse | GenerateDataKey | Decrypt | KMS calls | cache hits | tool call p50 |');
out('|---|---|---|---|---|---|');
for (const [label, r] of [['off', off], ['on (5 min, 1,000 uses)', on], ['on, after a restart (entries from the run before)', restarted]] as const) {
  out(`| ${label} | ${r.generate} | ${r.decrypt} | ${r.total} | ${r.hits} | ${ms(r.p50)} |`);
}
out(`reuse cuts KMS calls ${(off.total / on.total).toFixed(1)}× (${off.warnings + on.warnings + restarted.warnings} cache warnings)`);
