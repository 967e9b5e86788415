// End to end: the built `hipaa-fhir-mcp` bin spawned over stdio and driven by the SDK's real client,
// on the embedded data, checked against the fixture manifest and swept for every fixture identifier.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChainedLine } from '@hipaa-fhir-mcp/core';
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';
import { findIdentifiers, findShapes, type Identifier, identifiersOfBundle } from '@hipaa-fhir-mcp/phi-sweep';
import { BIN_PATH } from './wiring.js';

interface ManifestRow {
  readonly patient_id: string;
  readonly observations_by_loinc: Record<string, number>;
  readonly medication_requests_active: number;
  readonly active_with_medication_reference: number;
}
const manifest = JSON.parse(await readFile(join(embeddedDataDir, '..', 'manifest.json'), 'utf8')) as { patients: ManifestRow[] };

const fixtureIdentifiers = async (): Promise<Identifier[]> => {
  const ids: Identifier[] = [];
  for (const name of (await readdir(embeddedDataDir)).filter((n) => n.endsWith('.json'))) {
    ids.push(...identifiersOfBundle(JSON.parse(await readFile(join(embeddedDataDir, name), 'utf8'))));
  }
  return ids;
};

const serverEnv = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hfm-e2e-'));
  const key = randomBytes(32).toString('hex');
  return { dir, key, auditLog: join(dir, 'audit.jsonl'), env: { AUDIT_HMAC_KEY: key, AUDIT_LOG_FILE: join(dir, 'audit.jsonl'), CALLER_IDENTITY: 'e2e-test', FHIR_MAX_RESULTS: '1000' } };
};

const auditLines = async (path: string): Promise<unknown[]> =>
  (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line));

describe('hipaa-fhir-mcp over stdio, with the SDK client', () => {
  let client: Client;
  let transport: StdioClientTransport;
  let setup: Awaited<ReturnType<typeof serverEnv>>;
  let stderr = '';
  let calls = 0;
  const errorTexts: string[] = [];

  const call = async (name: string, args: Record<string, unknown>): Promise<CallToolResult> => {
    calls++;
    const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
    if (result.isError) errorTexts.push((result.content[0] as { text: string }).text);
    return result;
  };

  beforeAll(async () => {
    setup = await serverEnv();
    transport = new StdioClientTransport({ command: process.execPath, args: [BIN_PATH], env: setup.env, cwd: setup.dir, stderr: 'pipe' });
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    client = new Client({ name: 'e2e', version: '0.0.0' });
    await client.connect(transport);
  });
  afterAll(async () => client.close());

  it.each(manifest.patients.map((row) => [row.patient_id, row] as const))('serves patient %s as the manifest says', async (id, row) => {
    const patient = await call('get_patient', { patient_id: id });
    expect((patient.structuredContent as { patient: fhir4.Patient }).patient.id).toBe(id);
    for (const [code, count] of Object.entries(row.observations_by_loinc)) {
      const found = (await call('search_observations', { patient_id: id, code: `http://loinc.org|${code}` })).structuredContent as {
        observations: fhir4.Observation[];
        total: number;
      };
      expect([found.total, found.observations.length]).toStrictEqual([count, count]);
    }
    const meds = (await call('get_medication_list', { patient_id: id })).structuredContent as {
      medicationRequests: fhir4.MedicationRequest[];
      medications: fhir4.Medication[];
    };
    expect(meds.medicationRequests).toHaveLength(row.medication_requests_active);
    expect(meds.medicationRequests.every((r) => r.status === 'active')).toBe(true);
    expect(meds.medications).toHaveLength(row.active_with_medication_reference);
  });

  it('returns no SSN, licence or passport number by default (minimum necessary)', async () => {
    const government = (await fixtureIdentifiers()).filter((i) => /ssn|drivers-licence|passport/.test(i.label));
    expect(government.length).toBeGreaterThanOrEqual(manifest.patients.length);
    for (const row of manifest.patients) {
      calls++;
      const result = (await client.callTool({ name: 'get_patient', arguments: { patient_id: row.patient_id } })) as CallToolResult;
      const structured = result.structuredContent as { output_policy: string; removed: string[] };
      expect(structured.output_policy).toBe('minimum-necessary');
      expect(structured.removed).toContain('identifier:SS');
      expect(findIdentifiers(JSON.stringify(result), government)).toStrictEqual([]);
    }
  });

  it('answers bad input with a clean error and keeps serving', async () => {
    for (const args of [{ patient_id: '' }, { patient_id: '../Observation' }, { patient_id: 'a?b=c' }, { patient_id: 'x'.repeat(100_000) }, { patient_id: 7 }, {}]) {
      expect((await call('get_patient', args)).isError).toBe(true);
    }
    expect((await call('search_observations', { patient_id: manifest.patients[0]?.patient_id, code: 'heart rate' })).isError).toBe(true);
    expect((await call('get_patient', { patient_id: 'no-such-patient' })).isError).toBe(true);
    expect((await call('get_patient', { patient_id: manifest.patients[0]?.patient_id })).isError).toBeFalsy();
  });

  it('wrote exactly one valid audit record per call, and no identifier reached the audit log, stderr or an error text', async () => {
    const records = await auditLines(setup.auditLog);
    expect(records).toHaveLength(calls);
    for (const line of (await readFile(setup.auditLog, 'utf8')).trimEnd().split('\n')) expect(E.isRight(parseChainedLine(line))).toBe(true);
    const identifiers = await fixtureIdentifiers();
    expect(identifiers.length).toBeGreaterThan(40);
    const sinks = { audit: await readFile(setup.auditLog, 'utf8'), stderr, errors: errorTexts.join('\n') };
    for (const [sink, text] of Object.entries(sinks)) {
      expect([sink, findIdentifiers(text, identifiers)]).toStrictEqual([sink, []]);
      expect([sink, findShapes(text)]).toStrictEqual([sink, []]);
    }
    expect(stderr).toContain('"event":"server_started"');
    expect(stderr.match(/"event":"tool_call"/g)).toHaveLength(calls);
  });
});

/** Spawns the bin with raw pipes, writes `lines`, closes stdin, and collects everything. */
const runRaw = async (env: Record<string, string>, lines: readonly string[], cwd: string) => {
  const child = spawn(process.execPath, [BIN_PATH], { env: { PATH: process.env.PATH ?? '', ...env }, cwd, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  child.stdin.end(lines.map((l) => `${l}\n`).join(''));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
};

const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
const toolCall = (id: number, name: string, args: unknown) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('the hipaa-fhir-mcp process', () => {
  it('writes only JSON-RPC to stdout, answers everything asked before stdin closed, then exits 0', async () => {
    const setup = await serverEnv();
    const id = manifest.patients[0]?.patient_id as string;
    const { code, stdout, stderr } = await runRaw(
      setup.env,
      [initialize, '{"jsonrpc":"2.0","method":"notifications/initialized"}', toolCall(1, 'get_patient', { patient_id: id }), 'this is not JSON, Jane Roe', toolCall(2, 'get_medication_list', 'not an object'), toolCall(3, 'no_such_tool', {})],
      setup.dir,
    );
    expect(code).toBe(0);
    const messages = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { jsonrpc: string; id: number; result?: CallToolResult; error?: { message: string } });
    expect(messages.every((m) => m.jsonrpc === '2.0')).toBe(true);
    expect(messages.map((m) => m.id).sort()).toStrictEqual([0, 1, 2, 3]);
    expect(messages.find((m) => m.id === 2)?.result?.isError).toBe(true);
    expect(messages.find((m) => m.id === 3)?.error?.message).toMatch(/Unknown tool/);
    expect(await auditLines(setup.auditLog)).toHaveLength(2);
    expect(stderr).toContain('"event":"transport_error","error_class":"SyntaxError"');
    expect(stderr).not.toContain('Jane');
    expect(stderr).toContain('"reason":"stdin_closed"');
  });

  it('audits a task-augmented call and refuses it as a protocol error', async () => {
    const setup = await serverEnv();
    const id = manifest.patients[0]?.patient_id as string;
    const task = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'get_patient', arguments: { patient_id: id }, task: { ttl: 1000 } } });
    const { code, stdout } = await runRaw(setup.env, [initialize, task], setup.dir);
    expect(code).toBe(0);
    const answer = stdout.trimEnd().split('\n').map((l) => JSON.parse(l)).find((m) => m.id === 9);
    expect(answer.error.message).toMatch(/do not run as tasks \(request_id: [0-9a-f-]{36}\)/);
    expect(answer.result).toBeUndefined();
    expect(await auditLines(setup.auditLog)).toMatchObject([{ tool: 'get_patient', status: 'error', error_code: 'invalid_input', patient_id_hmac: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
  });

  it('finishes and audits every call at end of input, even with duplicate ids or a cancelled call', async () => {
    const setup = await serverEnv();
    const [a, b] = manifest.patients.map((p) => p.patient_id);
    const cancel = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3, reason: 'user' } });
    const { code, stdout, stderr } = await runRaw(
      setup.env,
      [initialize, toolCall(1, 'get_patient', { patient_id: a }), toolCall(1, 'get_medication_list', { patient_id: b }), toolCall(3, 'get_patient', { patient_id: b }), cancel],
      setup.dir,
    );
    expect(code).toBe(0);
    expect(stderr).toContain('"event":"server_stopped","reason":"stdin_closed"');
    const records = (await auditLines(setup.auditLog)) as { status: string }[];
    expect(records).toHaveLength(3);
    expect(records.every((r) => r.status === 'success')).toBe(true);
    expect(stdout.trimEnd().split('\n').filter((l) => JSON.parse(l).id === 1)).toHaveLength(2);
  });

  it('logs a Node warning by its class only', async () => {
    const setup = await serverEnv();
    const { writeFile: write } = await import('node:fs/promises');
    const preload = join(setup.dir, 'warn.cjs');
    await write(preload, "setTimeout(() => process.emitWarning('patient Jane Roe 4e122e91 could not be found', 'PhiWarning'), 1000);\n");
    const child = spawn(process.execPath, [BIN_PATH], { env: { PATH: process.env.PATH ?? '', ...setup.env, NODE_OPTIONS: `--require ${preload}` }, cwd: setup.dir });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    for (let waited = 0; !stderr.includes('process_warning') && waited < 8000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    child.stdin.end();
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
    expect(stderr).toContain('"event":"process_warning","warning_class":"PhiWarning"');
    expect(stderr).not.toMatch(/Jane|4e122e91/);
  });

  it('refuses to start without a key, saying how to make one, with nothing on stdout', async () => {
    const setup = await serverEnv();
    const { code, stdout, stderr } = await runRaw({ AUDIT_LOG_FILE: setup.auditLog }, [], setup.dir);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('AUDIT_HMAC_KEY: is required');
    expect(stderr).toContain('openssl rand -hex 32');
  });

  it('refuses a short key without echoing it', async () => {
    const setup = await serverEnv();
    const short = randomBytes(16).toString('hex');
    const { code, stderr } = await runRaw({ ...setup.env, AUDIT_HMAC_KEY: short }, [], setup.dir);
    expect(code).toBe(2);
    expect(stderr).toContain('at least 32 bytes');
    expect(stderr).not.toContain(short);
  });

  it('prints --version and --help on stderr, leaving stdout to the protocol, and exits 0', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const run = (arg: string) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN_PATH, arg]);
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.on('exit', (code) => (code === 0 && out === '' ? resolve(err) : reject(new Error(`exit ${code}, stdout ${out.length} bytes`))));
      });
    expect(await run('--version')).toBe(`${pkg.version}\n`);
    expect(await run('--help')).toContain('AUDIT_HMAC_KEY_FILE');
  });

  it('on SIGTERM stops reading, answers and audits the calls in flight, flushes and exits 0', async () => {
    const setup = await serverEnv();
    const child = spawn(process.execPath, [BIN_PATH], { env: { PATH: process.env.PATH ?? '', ...setup.env }, cwd: setup.dir, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.write(`${initialize}\n`);
    while (!stdout.includes('"id":0')) await new Promise((r) => setTimeout(r, 10));
    const ids = manifest.patients.map((p) => p.patient_id);
    // The first call loads the embedded data, so these are still in flight when the signal lands.
    child.stdin.write(ids.map((id, n) => `${toolCall(n + 1, 'search_observations', { patient_id: id, code: '8302-2' })}\n`).join(''));
    await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const answered = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { id: number }).filter((m) => m.id > 0);
    expect(answered.length).toBeGreaterThan(0);
    expect(await auditLines(setup.auditLog)).toHaveLength(answered.length);
    expect(stderr).toContain('"reason":"signal"');
  });
});
