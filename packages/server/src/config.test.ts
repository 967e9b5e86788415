import { userInfo } from 'node:os';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';
import { decodeConfig } from './config.js';

const KEY = 'ab'.repeat(32);
const base = { AUDIT_LOG_FILE: 'audit.jsonl', AUDIT_HMAC_KEY: KEY };

describe('decodeConfig', () => {
  it('needs only the audit log and the key; the rest has defaults', () => {
    expect(decodeConfig(base, '/srv')).toStrictEqual(
      E.right({
        fhir: { kind: 'files', dir: embeddedDataDir },
        workload: undefined,
        cache: undefined,
        audit: { kind: 'file', path: '/srv/audit.jsonl', rotate: {} },
        keySource: { kind: 'env', hex: KEY },
        callerIdentity: `os-user:${userInfo().username}`,
        maxObservations: 100,
        patientOutput: 'minimum-necessary',
        logLevel: 'info',
      }),
    );
  });

  it('names every missing variable and says how to make a key', () => {
    const result = decodeConfig({}, '/srv');
    if (E.isRight(result)) throw new Error('expected problems');
    expect(result.left.map((p) => p.variable)).toStrictEqual(['AUDIT_LOG_FILE', 'AUDIT_HMAC_KEY']);
    expect(result.left[1]?.problem).toContain('openssl rand -hex 32');
  });

  it('refuses a key under 32 bytes, or not hex, without repeating it', () => {
    for (const bad of ['ab'.repeat(31), `${'ab'.repeat(32)}z`, 'correct horse battery staple correct horse battery staple x']) {
      const result = decodeConfig({ ...base, AUDIT_HMAC_KEY: bad });
      if (E.isRight(result)) throw new Error('expected a problem');
      expect(result.left).toHaveLength(1);
      expect(result.left[0]?.variable).toBe('AUDIT_HMAC_KEY');
      expect(JSON.stringify(result.left)).not.toContain(bad);
    }
  });

  it('accepts a key file instead, but not both', () => {
    const fromFile = decodeConfig({ AUDIT_LOG_FILE: 'a', AUDIT_HMAC_KEY_FILE: 'k.hex' }, '/srv');
    expect(E.isRight(fromFile) && fromFile.right.keySource).toStrictEqual({ kind: 'file', path: '/srv/k.hex' });
    const both = decodeConfig({ ...base, AUDIT_HMAC_KEY_FILE: 'k.hex' });
    expect(E.isLeft(both) && both.left.map((p) => p.variable)).toStrictEqual(['AUDIT_HMAC_KEY']);
  });

  it('checks the caller identity and the result cap', () => {
    const result = decodeConfig({ ...base, CALLER_IDENTITY: 'dr\nwho', FHIR_MAX_RESULTS: '0' });
    expect(E.isLeft(result) && result.left.map((p) => p.variable).sort()).toStrictEqual(['CALLER_IDENTITY', 'FHIR_MAX_RESULTS']);
    const ok = decodeConfig({ ...base, CALLER_IDENTITY: 'dr.who@clinic.example', FHIR_MAX_RESULTS: '1000', FHIR_DATA_DIR: 'data' }, '/srv');
    expect(E.isRight(ok) && [ok.right.callerIdentity, ok.right.maxObservations, ok.right.fhir]).toStrictEqual([
      'dr.who@clinic.example',
      1000,
      { kind: 'files', dir: '/srv/data' },
    ]);
  });

  it('reads the output policy and the log level, refusing other values', () => {
    const ok = decodeConfig({ ...base, PHI_OUTPUT_POLICY: 'full', LOG_LEVEL: 'silent' });
    expect(E.isRight(ok) && [ok.right.patientOutput, ok.right.logLevel]).toStrictEqual(['full', 'silent']);
    const bad = decodeConfig({ ...base, PHI_OUTPUT_POLICY: 'everything', LOG_LEVEL: 'trace' });
    expect(E.isLeft(bad) && bad.left.map((p) => p.variable)).toStrictEqual(['PHI_OUTPUT_POLICY', 'LOG_LEVEL']);
  });

  it('reads KEY_PROVIDER=kms with a ciphertext, and refuses a plaintext key beside it', () => {
    const inline = decodeConfig({ AUDIT_LOG_FILE: 'a', KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT: 'AQIDBAUGBwg=' }, '/srv');
    expect(E.isRight(inline) && inline.right.keySource).toStrictEqual({ kind: 'kms', ciphertext: 'AQIDBAUGBwg=' });
    const file = decodeConfig({ AUDIT_LOG_FILE: 'a', KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT_FILE: 'key.b64' }, '/srv');
    expect(E.isRight(file) && file.right.keySource).toStrictEqual({ kind: 'kms-file', path: '/srv/key.b64' });
    const pinned = decodeConfig({ AUDIT_LOG_FILE: 'a', KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT_FILE: 'key.b64', KMS_KEY_ID: 'alias/audit' }, '/srv');
    expect(E.isRight(pinned) && pinned.right.keySource).toStrictEqual({ kind: 'kms-file', path: '/srv/key.b64', kmsKeyId: 'alias/audit' });
    const cases: [Record<string, string>, string][] = [
      [{ KEY_PROVIDER: 'kms' }, 'AUDIT_HMAC_KEY_CIPHERTEXT'],
      [{ KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT: 'not base64!' }, 'AUDIT_HMAC_KEY_CIPHERTEXT'],
      [{ KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT: 'AQID', KMS_KEY_ID: 'alias/has space' }, 'KMS_KEY_ID'],
      [{ KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT: 'AQID', AUDIT_HMAC_KEY: KEY }, 'KEY_PROVIDER'],
      [{ KEY_PROVIDER: 'vault' }, 'KEY_PROVIDER'],
    ];
    for (const [env, variable] of cases) {
      const result = decodeConfig({ AUDIT_LOG_FILE: 'a', ...env });
      expect(E.isLeft(result) && result.left.map((p) => p.variable)).toStrictEqual([variable]);
      expect(JSON.stringify(result)).not.toContain(KEY);
    }
  });

  it('sends audit records to CloudWatch Logs with AUDIT_SINK=cloudwatch, and only one destination', () => {
    const cw = decodeConfig({ AUDIT_HMAC_KEY: KEY, AUDIT_SINK: 'cloudwatch', AUDIT_LOG_GROUP: '/hipaa/audit' });
    expect(E.isRight(cw) && cw.right.audit).toStrictEqual({ kind: 'cloudwatch', logGroup: '/hipaa/audit', logStream: undefined });
    const cases: [Record<string, string>, string[]][] = [
      [{ AUDIT_SINK: 'cloudwatch' }, ['AUDIT_LOG_GROUP']],
      [{ AUDIT_SINK: 'cloudwatch', AUDIT_LOG_GROUP: 'g', AUDIT_LOG_FILE: 'a' }, ['AUDIT_LOG_FILE']],
      [{ AUDIT_SINK: 'cloudwatch', AUDIT_LOG_GROUP: 'g', AUDIT_LOG_STREAM: 'a:b' }, ['AUDIT_LOG_STREAM']],
      [{ AUDIT_SINK: 'cloudwatch', AUDIT_LOG_GROUP: 'g', AUDIT_LOG_STREAM: 'x'.repeat(501) }, ['AUDIT_LOG_STREAM']],
      [{ AUDIT_LOG_FILE: 'a', AUDIT_LOG_GROUP: 'g' }, ['AUDIT_LOG_GROUP']],
      [{ AUDIT_SINK: 'syslog' }, ['AUDIT_SINK']],
    ];
    for (const [env, variables] of cases) {
      const result = decodeConfig({ AUDIT_HMAC_KEY: KEY, ...env });
      expect(E.isLeft(result) && result.left.map((p) => p.variable)).toStrictEqual(variables);
    }
  });

  it('reads AUDIT_ROTATE as none, daily, a size, or both', () => {
    const rotation = (value: string) => {
      const decoded = decodeConfig({ ...base, AUDIT_ROTATE: value });
      return E.isRight(decoded) && decoded.right.audit.kind === 'file' ? decoded.right.audit.rotate : 'refused';
    };
    expect(rotation('none')).toStrictEqual({});
    expect(rotation('daily')).toStrictEqual({ daily: true });
    expect(rotation('64MiB')).toStrictEqual({ maxBytes: 64 * 1024 * 1024 });
    expect(rotation('daily, 2048')).toStrictEqual({ daily: true, maxBytes: 2048 });
    for (const bad of ['weekly', '10', '5MB', '1MiB,2MiB', '']) if (bad !== '') expect(rotation(bad)).toBe('refused');
  });

  it('selects a FHIR REST server by FHIR_BASE_URL, with its auth', () => {
    const none = decodeConfig({ ...base, FHIR_BASE_URL: 'https://r4.smarthealthit.org' });
    expect(E.isRight(none) && none.right.fhir).toStrictEqual({ kind: 'http', baseUrl: 'https://r4.smarthealthit.org/', timeoutMs: 10000, auth: { kind: 'none' } });
    const bearer = decodeConfig({ ...base, FHIR_BASE_URL: 'http://127.0.0.1:8080/fhir', FHIR_AUTH: 'bearer', FHIR_AUTH_TOKEN: 'tok', FHIR_TIMEOUT_MS: '500' });
    expect(E.isRight(bearer) && bearer.right.fhir).toStrictEqual({ kind: 'http', baseUrl: 'http://127.0.0.1:8080/fhir', timeoutMs: 500, auth: { kind: 'bearer', token: 'tok' } });
    const smart = decodeConfig({ ...base, FHIR_BASE_URL: 'https://ehr.example/fhir', FHIR_AUTH: 'smart-backend', SMART_CLIENT_ID: 'c', SMART_PRIVATE_KEY_FILE: 'k.pem', SMART_KEY_ID: 'k1' }, '/srv');
    expect(E.isRight(smart) && smart.right.fhir).toMatchObject({ auth: { kind: 'smart-backend', clientId: 'c', privateKeyFile: '/srv/k.pem', keyId: 'k1', scopes: undefined } });
  });

  it('selects AWS HealthLake by FHIR_BACKEND, by endpoint or by region and data store id', () => {
    const byId = decodeConfig({ ...base, FHIR_BACKEND: 'healthlake', AWS_REGION: 'eu-west-2', HEALTHLAKE_DATASTORE_ID: 'ab'.repeat(16) });
    expect(E.isRight(byId) && byId.right.fhir).toStrictEqual({
      kind: 'healthlake',
      endpoint: `https://healthlake.eu-west-2.amazonaws.com/datastore/${'ab'.repeat(16)}/r4/`,
      region: 'eu-west-2',
      timeoutMs: 10000,
    });
    const byEndpoint = decodeConfig({ ...base, FHIR_BACKEND: 'healthlake', HEALTHLAKE_DATASTORE_ENDPOINT: 'https://healthlake.us-west-2.amazonaws.com/datastore/x/r4/' });
    expect(E.isRight(byEndpoint) && byEndpoint.right.fhir).toMatchObject({ kind: 'healthlake', region: 'us-west-2' });
    const cases: [Record<string, string>, string[]][] = [
      [{ FHIR_BACKEND: 'healthlake', HEALTHLAKE_DATASTORE_ID: 'ab'.repeat(16) }, ['AWS_REGION']],
      [{ FHIR_BACKEND: 'healthlake', AWS_REGION: 'us-east-1' }, ['HEALTHLAKE_DATASTORE_ENDPOINT']],
      [{ FHIR_BACKEND: 'healthlake', AWS_REGION: 'us-east-1', HEALTHLAKE_DATASTORE_ID: 'nope' }, ['HEALTHLAKE_DATASTORE_ID']],
      [{ FHIR_BACKEND: 'healthlake', AWS_REGION: 'us-east-1', HEALTHLAKE_DATASTORE_ENDPOINT: 'https://healthlake.us-west-2.amazonaws.com/datastore/x/r4/' }, ['AWS_REGION']],
      [{ FHIR_BACKEND: 'healthlake', AWS_REGION: 'us-east-1', HEALTHLAKE_DATASTORE_ENDPOINT: 'http://healthlake.example/r4/' }, ['HEALTHLAKE_DATASTORE_ENDPOINT']],
      [{ FHIR_BACKEND: 'healthlake', AWS_REGION: 'us-east-1', HEALTHLAKE_DATASTORE_ID: 'ab'.repeat(16), FHIR_BASE_URL: 'https://x.example' }, ['FHIR_BASE_URL']],
      [{ FHIR_BACKEND: 'graphql' }, ['FHIR_BACKEND']],
    ];
    for (const [env, variables] of cases) {
      const result = decodeConfig({ ...base, ...env });
      expect(E.isLeft(result) && result.left.map((p) => p.variable)).toStrictEqual(variables);
    }
  });

  it('refuses unsafe or incomplete FHIR server settings, naming each variable and echoing no secret', () => {
    const cases: [Record<string, string>, string[]][] = [
      [{ FHIR_BASE_URL: 'http://ehr.example/fhir' }, ['FHIR_BASE_URL']],
      [{ FHIR_BASE_URL: 'https://user:secret@ehr.example/fhir' }, ['FHIR_BASE_URL']],
      [{ FHIR_BASE_URL: 'https://ehr.example/fhir?patient=x' }, ['FHIR_BASE_URL']],
      [{ FHIR_BASE_URL: 'https://ehr.example/fhir?' }, ['FHIR_BASE_URL']],
      [{ FHIR_BASE_URL: 'https://ehr.example/fhir#' }, ['FHIR_BASE_URL']],
      [{ FHIR_BASE_URL: 'https://ehr.example', FHIR_AUTH: 'bearer' }, ['FHIR_AUTH_TOKEN']],
      [{ FHIR_BASE_URL: 'https://ehr.example', FHIR_AUTH: 'smart-backend' }, ['SMART_CLIENT_ID', 'SMART_KEY_ID', 'SMART_PRIVATE_KEY_FILE']],
      [{ FHIR_BASE_URL: 'https://ehr.example', FHIR_AUTH: 'basic' }, ['FHIR_AUTH']],
      [{ FHIR_BASE_URL: 'https://ehr.example', FHIR_TIMEOUT_MS: '5' }, ['FHIR_TIMEOUT_MS']],
      [{ FHIR_BASE_URL: 'https://ehr.example', FHIR_DATA_DIR: 'x' }, ['FHIR_DATA_DIR']],
      [{ FHIR_AUTH_TOKEN: 'secret' }, ['FHIR_AUTH_TOKEN']],
    ];
    for (const [env, variables] of cases) {
      const result = decodeConfig({ ...base, ...env });
      expect(E.isLeft(result) && result.left.map((p) => p.variable).sort()).toStrictEqual(variables);
      expect(JSON.stringify(result)).not.toContain('secret');
    }
  });
});

describe('the README', () => {
  it('caches only with CACHE_DIR, with a short default TTL and a size bound; data keys follow KEY_PROVIDER', () => {
    const master = 'cd'.repeat(32);
    const local = decodeConfig({ ...base, CACHE_DIR: 'cache', CACHE_MASTER_KEY: master.toUpperCase() }, '/srv');
    expect(E.isRight(local) && local.right.cache).toStrictEqual({
      dir: '/srv/cache',
      ttlMs: 300_000,
      maxBytes: 64 * 1024 ** 2,
      dataKeys: { kind: 'local', masterKey: { kind: 'env', hex: master } },
    });
    const fromFile = decodeConfig({ ...base, CACHE_DIR: 'cache', CACHE_MASTER_KEY_FILE: 'cache.key' }, '/srv');
    expect(E.isRight(fromFile) && fromFile.right.cache?.dataKeys).toStrictEqual({ kind: 'local', masterKey: { kind: 'file', path: '/srv/cache.key' } });
    const tuned = decodeConfig({ ...base, CACHE_DIR: '/c', CACHE_MASTER_KEY: master, CACHE_TTL_SECONDS: '60', CACHE_MAX_SIZE: '8MiB' });
    expect(E.isRight(tuned) && tuned.right.cache).toMatchObject({ ttlMs: 60_000, maxBytes: 8 * 1024 ** 2 });
    const kms = { AUDIT_LOG_FILE: 'a', KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT: 'AQID', CACHE_DIR: '/c' };
    const viaKms = decodeConfig({ ...kms, KMS_KEY_ID: 'alias/phi-cache' });
    expect(E.isRight(viaKms) && viaKms.right.cache?.dataKeys).toStrictEqual({ kind: 'kms', kmsKeyId: 'alias/phi-cache' });
    const problems = (env: NodeJS.ProcessEnv) => {
      const result = decodeConfig(env);
      return E.isLeft(result) ? result.left.map((p) => p.variable) : [];
    };
    expect(problems(kms)).toStrictEqual(['KMS_KEY_ID']);
    expect(problems({ ...kms, KMS_KEY_ID: 'alias/x', CACHE_MASTER_KEY: master })).toStrictEqual(['CACHE_MASTER_KEY']);
    expect(problems({ ...base, CACHE_TTL_SECONDS: '60', CACHE_MAX_SIZE: '1MiB', CACHE_MASTER_KEY: master })).toStrictEqual(['CACHE_TTL_SECONDS', 'CACHE_MAX_SIZE', 'CACHE_MASTER_KEY']);
    const cached = { ...base, CACHE_DIR: '/c', CACHE_MASTER_KEY: master };
    expect(problems({ ...cached, CACHE_TTL_SECONDS: '0' })).toStrictEqual(['CACHE_TTL_SECONDS']);
    expect(problems({ ...cached, CACHE_TTL_SECONDS: '86401' })).toStrictEqual(['CACHE_TTL_SECONDS']);
    expect(problems({ ...cached, CACHE_MAX_SIZE: '10' })).toStrictEqual(['CACHE_MAX_SIZE']);
    // A key of its own, exactly 32 bytes, one source, never echoed.
    expect(problems({ ...base, CACHE_DIR: '/c' })).toStrictEqual(['CACHE_MASTER_KEY']);
    expect(problems({ ...cached, CACHE_MASTER_KEY_FILE: 'k' })).toStrictEqual(['CACHE_MASTER_KEY']);
    for (const bad of ['ab'.repeat(31), 'ab'.repeat(33), `${'ab'.repeat(31)}zz`]) {
      const result = decodeConfig({ ...cached, CACHE_MASTER_KEY: bad });
      expect(E.isLeft(result) && result.left.map((p) => p.variable)).toStrictEqual(['CACHE_MASTER_KEY']);
      expect(JSON.stringify(result)).not.toContain(bad);
    }
  });

  it('refuses FHIR_AUTH=smart-user with serve --http: one login must not read for every HTTP caller', async () => {
    const { decodeHttpConfig } = await import('./config.js');
    const result = decodeHttpConfig({ FHIR_AUTH: 'smart-user', OAUTH_ISSUER: 'https://as.example', OAUTH_RESOURCE: 'https://mcp.example/mcp' });
    expect(E.isLeft(result) && result.left.map((p) => p.variable)).toStrictEqual(['FHIR_AUTH']);
  });

  it("documents every variable the server reads in its configuration table", async () => {
    const { readFile } = await import('node:fs/promises');
    const { ENV_VARS } = await import('./config.js');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const variable of [...ENV_VARS, 'AUDIT_LOG_FILE']) expect(readme).toContain(`| \`${variable}\` |`);
  });
});
