import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService } from './service.js';

const PATIENT = 'd66b5418-06cb-fc8a-8c13-85685b6ac939';
let service: Awaited<ReturnType<typeof startService>>;
let auditLogFile: string;

beforeAll(async () => {
  auditLogFile = join(await mkdtemp(join(tmpdir(), 'embed-')), 'audit.jsonl');
  service = await startService({ auditLogFile, hmacKey: randomBytes(32) });
});
afterAll(async () => service.close());

const post = async (path: string, body: string, caller?: string) => {
  const response = await fetch(`${service.url}${path}`, { method: 'POST', body, headers: caller === undefined ? {} : { 'x-caller-identity': caller } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('the core embedded in a plain HTTP service', () => {
  it('serves a tool as JSON and audits it with the per-request caller', async () => {
    const ok = await post('/tools/get_medication_list', JSON.stringify({ patient_id: PATIENT }), 'dr.example');
    expect(ok.status).toBe(200);
    expect((ok.body.medications as unknown[]).length).toBe(3);
    const bad = await post('/tools/get_patient', JSON.stringify({ patient_id: '../Observation' }), 'dr.example');
    expect(bad).toMatchObject({ status: 400, body: { error: 'invalid_input' } });
    const junk = await post('/tools/get_patient', '{not json', 'dr.example');
    expect(junk).toMatchObject({ status: 400, body: { error: 'invalid_input' } });
    const anonymous = await post('/tools/get_patient', JSON.stringify({ patient_id: PATIENT }));
    expect(anonymous).toMatchObject({ status: 401, body: { error: 'identity_unavailable' } });
    expect(await post('/tools/drop_tables', '{}', 'dr.example')).toMatchObject({ status: 404 });

    const records = (await readFile(auditLogFile, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => [r.caller_identity, r.status, r.error_code])).toStrictEqual([
      ['dr.example', 'success', null],
      ['dr.example', 'error', 'invalid_input'],
      ['dr.example', 'error', 'invalid_input'],
      [null, 'error', 'identity_unavailable'],
    ]);
    expect(JSON.stringify(records)).not.toContain(PATIENT);
  });

  it('survives a client that aborts mid-body, and audits the call', async () => {
    const { request } = await import('node:http');
    const before = (await readFile(auditLogFile, 'utf8')).trimEnd().split('\n').length;
    await new Promise<void>((resolve) => {
      const req = request(`${service.url}/tools/get_patient`, { method: 'POST', headers: { 'x-caller-identity': 'dr.example', 'content-length': '1000' } });
      req.on('error', () => resolve());
      req.write('{"patient_id":"d66b');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    await new Promise((r) => setTimeout(r, 100));
    expect((await post('/tools/get_patient', JSON.stringify({ patient_id: PATIENT }), 'dr.example')).status).toBe(200);
    const records = (await readFile(auditLogFile, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(records.slice(before).map((r) => [r.error_code, r.patient_id_hmac])).toStrictEqual([
      ['invalid_input', null],
      [null, records.at(-1).patient_id_hmac],
    ]);
  });
});
