// The adversarial privacy suite. It spawns the real built server over stdio, drives it with the SDK
// client against the FHIR sandbox holding all 16 fixture patients — every tool for every patient,
// generated hostile ids and codes, every upstream fault (including servers that echo the request),
// and an audit disk that fills up — and over HTTP with OAuth (valid, patient-limited and forged
// tokens), then sweeps every sink, the encrypted PHI cache's directory included (file names and raw
// bytes), for every identifier.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { type Fault, readFixtureBundles, type Sandbox, startSandbox } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { freeLoopbackPort, startAuthorizationServer } from '@hipaa-fhir-mcp/example-oauth-authorization-server';
import { type Finding, findIdentifiers, findShapes, type Identifier, identifiersOfBundle } from '@hipaa-fhir-mcp/phi-sweep';
import { BIN_PATH } from '@hipaa-fhir-mcp/server';

export interface SuiteOptions {
  /** Generated hostile calls (fast-check, fixed seed). */
  readonly generatedCalls: number;
  /** Run with a preloaded module that logs every outgoing HTTP path to stderr: a deliberate leak. */
  readonly plantLeak?: boolean;
  /** Skip the faults and the failing-disk run (for the planted-leak check). */
  readonly quick?: boolean;
}

export interface SinkReport {
  readonly sink: string;
  readonly bytes: number;
  readonly hits: readonly (Finding & { readonly where: string })[];
}

export interface SuiteReport {
  readonly calls: number;
  readonly records: number;
  /** Calls that returned data, each of which must have its record. */
  readonly succeeded: number;
  /** Calls refused because the audit disk was full (no data returned). */
  readonly failedClosed: number;
  readonly identifiersSwept: number;
  readonly sinks: readonly SinkReport[];
  readonly hits: number;
  /** stdout lines that were not JSON-RPC (seen by the client as transport errors). */
  readonly nonProtocolStdout: number;
  /**
   * Request ids that do not match one-to-one: answered calls without a record, records of calls
   * refused for a full disk, records no call explains, and duplicates. Must be 0.
   */
  readonly unmatchedRequestIds: number;
  /** Calls whose record says the data came from the PHI cache (CACHE_DIR). */
  readonly cacheHits: number;
  /** Files in CACHE_DIR when the sweep ran. */
  readonly cacheFiles: number;
}

const FAULTS: readonly (readonly Fault[])[] = [
  [{ kind: 'status', status: 500 }],
  [{ kind: 'status', status: 503 }, { kind: 'status', status: 503 }, { kind: 'status', status: 503 }],
  [{ kind: 'status', status: 429, retryAfterSeconds: 60 }],
  [{ kind: 'status', status: 401 }],
  [{ kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' }],
  [{ kind: 'reset' }, { kind: 'reset' }, { kind: 'reset' }],
  [{ kind: 'malformed-json' }],
  [{ kind: 'html-error-page' }, { kind: 'html-error-page' }, { kind: 'html-error-page' }],
  [{ kind: 'wrong-content-type' }],
  [{ kind: 'not-found-echoing-path' }],
  [{ kind: 'error-echoing-request' }],
  [{ kind: 'oversized', bytes: 20 * 1024 * 1024 }],
  [{ kind: 'drop-patient-param' }],
  [{ kind: 'wrong-patient' }],
];

const TOOLS = ['get_patient', 'search_observations', 'get_medication_list'] as const;
type Tool = (typeof TOOLS)[number];
interface Call {
  readonly tool: Tool;
  readonly args: Record<string, unknown>;
}

const argsFor = (tool: Tool, patientId: unknown, code: unknown = '8867-4'): Record<string, unknown> =>
  tool === 'search_observations' ? { patient_id: patientId, code } : { patient_id: patientId };

/** Hostile inputs built around the real fixture ids: encoded, suffixed, unicode, huge, and random. */
const generatedCalls = (realIds: readonly string[], count: number): Call[] => {
  const real = fc.constantFrom(...realIds);
  const patientId = fc.oneof(
    real,
    real.map((id) => encodeURIComponent(`Patient/${id}`)),
    real.map((id) => `${id}?_format=json`),
    real.map((id) => `../Patient/${id}`),
    real.map((id) => ` ${id}\n`),
    real.map((id) => `${id}${'x'.repeat(10_000)}`),
    real.map((id) => id.toUpperCase()),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }),
    fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/),
    fc.constantFrom('.', '..', '%2e%2e', '', '\u0000', 'Patient', '*'),
  );
  const code = fc.oneof(
    fc.constantFrom('8867-4', 'http://loinc.org|8302-2', '29463-7'),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    real.map((id) => `http://loinc.org|${id}`),
  );
  const call = fc.tuple(fc.constantFrom(...TOOLS), patientId, code).map(([tool, id, c]): Call => ({ tool, args: argsFor(tool, id, c) }));
  return fc.sample(call, { numRuns: count, seed: 4242 });
};

const filesUnder = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { withFileTypes: true, recursive: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));

interface ServerRun {
  readonly client: Client;
  readonly stderr: () => string;
  readonly transportErrors: () => number;
}

const startServer = async (env: Record<string, string>, cwd: string, fileSizeLimitKb?: number): Promise<ServerRun> => {
  // A full disk for the audit log: `ulimit -f`, under which writes past the limit fail with EFBIG.
  const command = fileSizeLimitKb === undefined ? process.execPath : '/bin/sh';
  const args = fileSizeLimitKb === undefined ? [BIN_PATH] : ['-c', `ulimit -f ${fileSizeLimitKb}; exec "$0" "$1"`, process.execPath, BIN_PATH];
  const transport = new StdioClientTransport({ command, args, env, cwd, stderr: 'pipe' });
  let stderr = '';
  let transportErrors = 0;
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'privacy-suite', version: '0.1.0' });
  client.onerror = () => void transportErrors++;
  await client.connect(transport);
  return { client, stderr: () => stderr, transportErrors: () => transportErrors };
};

export const runPrivacySuite = async (options: SuiteOptions): Promise<SuiteReport> => {
  const bundles = await readFixtureBundles();
  const realIds = bundles.map((b) => b.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource?.id as string);
  const sandbox: Sandbox = await startSandbox({ bundles });
  const root = await mkdtemp(join(tmpdir(), 'privacy-suite-'));
  const [cwd, home, tmp] = await Promise.all(['cwd', 'home', 'tmp'].map((name) => mkdtemp(join(root, `${name}-`))));
  const cacheDir = join(root, 'phi-cache');
  const token = `tok-${randomBytes(24).toString('base64url')}`;
  const key = randomBytes(32).toString('hex');
  const cacheKey = randomBytes(32).toString('hex');
  const env: Record<string, string> = {
    HOME: home as string,
    TMPDIR: tmp as string,
    AUDIT_HMAC_KEY: key,
    FHIR_BASE_URL: sandbox.baseUrl,
    FHIR_AUTH: 'bearer',
    FHIR_AUTH_TOKEN: token,
    FHIR_TIMEOUT_MS: '300',
    LOG_LEVEL: 'debug',
    CACHE_DIR: cacheDir,
    CACHE_MASTER_KEY: cacheKey,
  };
  if (options.plantLeak === true) {
    const preload = join(root, 'leaky-adapter.cjs');
    await writeFile(preload, "const http = require('node:http');\nconst request = http.request;\nhttp.request = function (...args) { process.stderr.write(`GET ${args[0]?.path ?? args[0]}\\n`); return request.apply(this, args); };\n");
    env.NODE_OPTIONS = `--require ${preload}`;
  }

  const errorTexts: string[] = [];
  let calls = 0;
  let succeeded = 0;
  let failedClosed = 0;
  /** The request id of every answered call that must have its record, and of every one that must not. */
  const mustBeLogged: string[] = [];
  const mustNotBeLogged: string[] = [];
  const requestIdIn = (text: string) => /request_id: ([0-9a-f-]{36})/.exec(text)?.[1];
  const call = async (run: ServerRun, { tool, args }: Call): Promise<void> => {
    calls++;
    try {
      const result = (await run.client.request({ method: 'tools/call', params: { name: tool, arguments: args } }, CallToolResultSchema)) as CallToolResult;
      if (result.isError) {
        const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
        errorTexts.push(text);
        const refused = text.startsWith('The call could not be written to the audit log');
        if (refused) failedClosed++;
        (refused ? mustNotBeLogged : mustBeLogged).push(requestIdIn(text) ?? 'missing-request-id');
      } else {
        succeeded++;
        mustBeLogged.push((result.structuredContent as { request_id?: string } | undefined)?.request_id ?? 'missing-request-id');
      }
    } catch (error) {
      const text = String((error as Error).message);
      errorTexts.push(text); // a protocol error's text reaches the host too
      mustBeLogged.push(requestIdIn(text) ?? 'missing-request-id');
    }
  };

  // 1. Every tool for every patient twice (the second time from the cache), then hostile inputs, then every fault.
  const main = await startServer({ ...env, AUDIT_LOG_FILE: join(cwd as string, 'audit.jsonl') }, cwd as string);
  for (let round = 0; round < 2; round++) for (const id of realIds) for (const tool of TOOLS) await call(main, { tool, args: argsFor(tool, id) });
  for (const generated of generatedCalls(realIds, options.generatedCalls)) await call(main, generated);
  await main.client.close();
  const runs: ServerRun[] = [main];
  if (options.quick !== true) {
    // Faults need every call to reach the FHIR server, so this run has no cache; same audit log.
    const { CACHE_DIR: _none, CACHE_MASTER_KEY: _unused, ...uncached } = env;
    const faulty = await startServer({ ...uncached, AUDIT_LOG_FILE: join(cwd as string, 'audit.jsonl') }, cwd as string);
    runs.push(faulty);
    for (const [n, faults] of FAULTS.entries()) {
      sandbox.clearFaults();
      sandbox.injectFaults(...faults);
      const tool = TOOLS[n % TOOLS.length] as Tool;
      await call(faulty, { tool, args: argsFor(tool, realIds[n % realIds.length]) });
    }
    sandbox.clearFaults();
    await faulty.client.close();
  }

  // 2. An audit disk that fills up after a few records: calls must fail closed, with no data.
  const fullDiskLog = join(cwd as string, 'full-disk', 'audit.jsonl');
  if (options.quick !== true) {
    const full = await startServer({ ...env, AUDIT_LOG_FILE: fullDiskLog }, cwd as string, 2);
    runs.push(full);
    for (let i = 0; i < 12; i++) await call(full, { tool: 'get_patient', args: argsFor('get_patient', realIds[i % realIds.length]) });
    await full.client.close();
  }
  // 3. MCP over HTTP with OAuth (`serve --http`): every tool for every patient with a clinician's token,
  // a patient-context token asking for the other patients (403), and forged or missing tokens (401).
  const httpLog = join(cwd as string, 'http', 'audit.jsonl');
  let httpStderr = '';
  const mcpTokens: string[] = [];
  if (options.quick !== true) {
    const port = await freeLoopbackPort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const as = await startAuthorizationServer({
      resource,
      clients: [
        { clientId: 'clinician', scope: 'user/*.rs', claims: { fhirUser: 'Practitioner/privacy-suite' } },
        { clientId: 'patient-app', scope: 'patient/*.rs', claims: { patient: realIds[0] as string, fhirUser: `Patient/${realIds[0]}` } },
      ],
    });
    const child = spawn(process.execPath, [BIN_PATH, 'serve', '--http'], {
      env: { ...env, AUDIT_LOG_FILE: httpLog, HTTP_PORT: String(port), OAUTH_ISSUER: as.issuer, OAUTH_RESOURCE: resource },
      cwd: cwd as string,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (chunk: Buffer) => (httpStderr += chunk.toString('utf8')));
    while (!httpStderr.includes('"http_listening"') && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 20));
    const clinician = await as.token('clinician');
    const patientApp = await as.token('patient-app');
    mcpTokens.push(clinician, patientApp);
    const httpCall = async ({ tool, args }: Call, authorization: string | undefined): Promise<void> => {
      calls++;
      const response = await fetch(resource, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(authorization === undefined ? {} : { authorization }) },
        body: JSON.stringify({ jsonrpc: '2.0', id: calls, method: 'tools/call', params: { name: tool, arguments: args } }),
      });
      const text = await response.text();
      const result = response.status === 200 ? (JSON.parse(text) as { result?: CallToolResult }).result : undefined;
      if (result !== undefined && result.isError !== true) {
        succeeded++;
        mustBeLogged.push((result.structuredContent as { request_id?: string } | undefined)?.request_id ?? 'missing-request-id');
      } else {
        errorTexts.push(text); // a refusal's or an error's body reaches the client and may be kept
        mustBeLogged.push(requestIdIn(text) ?? (/"request_id":"([0-9a-f-]{36})"/.exec(text)?.[1] ?? 'missing-request-id'));
      }
    };
    for (const id of realIds) for (const tool of TOOLS) await httpCall({ tool, args: argsFor(tool, id) }, `Bearer ${clinician}`);
    for (const id of realIds.slice(1)) await httpCall({ tool: 'get_patient', args: argsFor('get_patient', id) }, `Bearer ${patientApp}`);
    for (const forged of [undefined, 'Bearer forged', `Bearer ${clinician.slice(0, -4)}AAAA`]) await httpCall({ tool: 'get_patient', args: argsFor('get_patient', realIds[1]) }, forged);
    for (const generated of generatedCalls(realIds, 20)) await httpCall(generated, `Bearer ${clinician}`);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await as.close();
  }
  await sandbox.close();

  // 4. Sweep every sink for every identifier, in plain, URL-encoded, JSON-escaped, base64 and bare-digit forms.
  const identifiers: Identifier[] = [
    ...bundles.flatMap((bundle) => identifiersOfBundle(bundle)),
    { label: 'bearer-token', value: token },
    { label: 'hmac-key', value: key },
    { label: 'cache-master-key', value: cacheKey },
    ...mcpTokens.map((value) => ({ label: 'mcp-access-token', value })),
  ];
  const sweep = (sink: string, where: string, text: string): SinkReport => ({
    sink,
    bytes: Buffer.byteLength(text),
    hits: [...findIdentifiers(text, identifiers), ...findShapes(text)].map((f) => ({ ...f, where })),
  });
  const readLog = async (path: string) => (await readFile(path, 'utf8').catch(() => ''));
  const auditText = await readLog(join(cwd as string, 'audit.jsonl'));
  const sinks: SinkReport[] = [
    sweep('audit log', 'audit.jsonl', auditText + (await readLog(fullDiskLog)) + (await readLog(httpLog))),
    sweep('stderr', 'server stderr', [...runs.map((r) => r.stderr()), httpStderr].join('\n')),
    sweep('error texts', 'tool and protocol error texts', errorTexts.join('\n')),
  ];
  for (const [label, dir] of [['cwd files', cwd], ['HOME files', home], ['TMPDIR files', tmp]] as const) {
    const reports = await Promise.all((await filesUnder(dir as string)).map(async (file) => sweep(label, file.slice(root.length + 1), await readFile(file, 'utf8'))));
    sinks.push({ sink: label, bytes: reports.reduce((n, r) => n + r.bytes, 0), hits: reports.flatMap((r) => r.hits) });
  }
  // The cache holds PHI at rest: its file names and raw bytes (read as latin1, so nothing is lost).
  const cacheFiles = await filesUnder(cacheDir).catch(() => []);
  const cacheReports = await Promise.all(cacheFiles.map(async (file) => sweep('cache files', file.slice(root.length + 1), `${file.slice(root.length + 1)}\n${(await readFile(file)).toString('latin1')}`)));
  sinks.push({ sink: 'cache files', bytes: cacheReports.reduce((n, r) => n + r.bytes, 0), hits: cacheReports.flatMap((r) => r.hits) });
  const recordLines = [...auditText.split('\n'), ...(await readLog(fullDiskLog)).split('\n'), ...(await readLog(httpLog)).split('\n')].filter((l) => l !== '');
  const records = recordLines.length;
  const parsed = recordLines.map((l) => JSON.parse(l) as { request_id: string; data_source: string | null });
  const logged = parsed.map((r) => r.request_id);
  const loggedSet = new Set(logged);
  const expected = new Set(mustBeLogged);
  const unmatchedRequestIds =
    mustBeLogged.filter((id) => !loggedSet.has(id)).length +
    mustNotBeLogged.filter((id) => loggedSet.has(id)).length +
    logged.filter((id) => !expected.has(id)).length +
    (logged.length - loggedSet.size);
  return {
    calls,
    records,
    succeeded,
    failedClosed,
    identifiersSwept: identifiers.length,
    sinks,
    hits: sinks.reduce((n, s) => n + s.hits.length, 0),
    nonProtocolStdout: runs.reduce((n, r) => n + r.transportErrors(), 0),
    unmatchedRequestIds,
    cacheHits: parsed.filter((r) => r.data_source === 'cache').length,
    cacheFiles: cacheFiles.length,
  };
};

export const formatReport = (report: SuiteReport): string =>
  [
    `calls made: ${report.calls} (returned data: ${report.succeeded}; refused because the audit disk was full: ${report.failedClosed})`,
    `audit records written: ${report.records} (request ids not matching one-to-one: ${report.unmatchedRequestIds})`,
    `identifiers swept: ${report.identifiersSwept} (every fixture patient's id, names, SSN, MRN, licence, passport, phone, address, birth date; the bearer tokens, FHIR's and MCP's; the HMAC key; the cache master key), each plain, URL-encoded, JSON-escaped, base64-encoded and (SSN, phone, birth date) as bare digits, plus identifier shapes`,
    `stdout lines that were not JSON-RPC: ${report.nonProtocolStdout}`,
    `PHI cache: ${report.cacheHits} calls served from it; ${report.cacheFiles} encrypted entries swept by name and raw bytes`,
    '',
    '| sink | bytes swept | hits |',
    '|---|---|---|',
    ...report.sinks.map((s) => `| ${s.sink} | ${s.bytes} | ${s.hits.length} |`),
    '',
    `hits: ${report.hits}`,
    ...report.sinks.flatMap((s) => s.hits.slice(0, 5).map((h) => `  HIT in ${s.sink} (${h.where}) line ${h.line}: ${h.kind}${h.label === undefined ? '' : ` (${h.label})`}`)),
  ].join('\n');
