// kill -9 with 64 calls in flight: on restart every call that was answered has its record, the
// torn tail (if any) is cut away, the chain verifies, and appending continues the same chain.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import { runAuditCli } from './auditCli.js';
import { BIN_PATH } from './wiring.js';

const PATIENTS = ['d66b5418-06cb-fc8a-8c13-85685b6ac939', 'f82f5556-260e-4ddd-83a0-9a93e0139732', '64f4649d-8d2e-40ae-811d-7316accdf5ee'];
const initialize = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'crash', version: '1' } } });
const call = (id: number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'search_observations', arguments: { patient_id: PATIENTS[id % 3], code: '8302-2' } } });

const verify = async (log: string, env: NodeJS.ProcessEnv) => {
  let stdout = '';
  const code = await runAuditCli(['verify', log], {
    stdin: Readable.from([]),
    stdout: { write: (s: string) => ((stdout += s), true) } as never,
    stderr: { write: () => true } as never,
    env,
  });
  return { code, stdout };
};

it('survives kill -9 with 64 calls in flight: nothing answered is missing, the chain continues', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'crash-'));
  const env = { PATH: process.env.PATH ?? '', AUDIT_HMAC_KEY: randomBytes(32).toString('hex'), AUDIT_LOG_FILE: join(dir, 'audit.jsonl') };
  const requestIdsAnswered: string[] = [];

  const child = spawn(process.execPath, [BIN_PATH], { env, cwd: dir, stdio: ['pipe', 'pipe', 'ignore'] });
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      const message = JSON.parse(buffer.slice(0, nl)) as { id: number; result?: { structuredContent?: { request_id: string } } };
      buffer = buffer.slice(nl + 1);
      const requestId = message.result?.structuredContent?.request_id;
      if (requestId !== undefined) requestIdsAnswered.push(requestId);
      // Killed the moment the fourth answer is read, so that most calls are still in flight.
      if (requestIdsAnswered.length === 4) child.kill('SIGKILL');
    }
  });
  child.stdin.write(`${initialize}\n`);
  child.stdin.write(Array.from({ length: 64 }, (_, i) => `${call(i + 1)}\n`).join(''));
  await new Promise((resolve) => child.on('exit', resolve));
  expect(requestIdsAnswered.length).toBeLessThan(64); // killed mid-flight, not after the fact

  // Restart on the same log: the dead writer's lock is taken over and the chain continues.
  const restarted = spawn(process.execPath, [BIN_PATH], { env, cwd: dir, stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  restarted.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  restarted.stdin.end(`${initialize}\n${call(999)}\n`);
  expect(await new Promise((resolve) => restarted.on('exit', resolve))).toBe(0);
  expect(out).toContain('"id":999');

  const records = (await readFile(env.AUDIT_LOG_FILE, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { request_id: string; seq: number });
  const logged = new Set(records.map((r) => r.request_id));
  expect(requestIdsAnswered.filter((id) => !logged.has(id))).toStrictEqual([]);
  expect(records.map((r) => r.seq)).toStrictEqual(records.map((_, i) => i + 1));
  expect(await verify(env.AUDIT_LOG_FILE, env)).toMatchObject({ code: 0 });
});
