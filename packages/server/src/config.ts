// Configuration from environment variables, decoded with io-ts. Every problem names its variable
// and says how to fix it; no message repeats a secret (a key or token). File paths, the operator's own
// configuration, are named where that helps to fix them.
import { homedir, userInfo } from 'node:os';
import { resolve } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { CallerIdentity, MIN_HMAC_KEY_BYTES, type PatientOutputPolicy } from '@hipaa-fhir-mcp/core';
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';

/** Where the HMAC key comes from; the key itself is read by `loadHmacKey`. */
export type KeySource =
  | { readonly kind: 'env'; readonly hex: string }
  | { readonly kind: 'file'; readonly path: string }
  /** A KMS ciphertext (base64), inline or in a file; decrypted with KMS at start. */
  | { readonly kind: 'kms'; readonly ciphertext: string; readonly kmsKeyId?: string }
  | { readonly kind: 'kms-file'; readonly path: string; readonly kmsKeyId?: string };

export type FhirAuthConfig =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string }
  | {
      readonly kind: 'smart-backend';
      readonly clientId: string;
      readonly privateKeyFile: string;
      readonly keyId: string;
      /** Unset: fhir-http's default system scopes for the three tools. */
      readonly scopes: string | undefined;
    }
  | {
      /** SMART standalone launch: FHIR read as the user `hipaa-fhir-mcp login` signed in. */
      readonly kind: 'smart-user';
      readonly clientId: string;
      /** Where the login (refresh token and fhirUser) is kept, encrypted with a key derived from the audit key. */
      readonly loginFile: string;
      /** Unset: DEFAULT_LOGIN_SCOPES. */
      readonly scopes: string | undefined;
    };

/** What `login` asks for by default: the user's identity, a refresh token, and read access for the tools. */
export const DEFAULT_LOGIN_SCOPES = 'openid fhirUser offline_access user/Patient.rs user/Observation.rs user/MedicationRequest.rs user/Medication.rs';

/** Where FHIR data comes from: local Bundle files (the default) or a FHIR R4 REST server. */
export type FhirConfig =
  | { readonly kind: 'files'; readonly dir: string }
  | { readonly kind: 'healthlake'; readonly endpoint: string; readonly region: string; readonly timeoutMs: number }
  | { readonly kind: 'http'; readonly baseUrl: string; readonly timeoutMs: number; readonly auth: FhirAuthConfig };

/** CACHE_DIR: FHIR results cached encrypted on disk; data keys from the KEY_PROVIDER's side (local or KMS). */
export interface CacheConfig {
  readonly dir: string;
  readonly ttlMs: number;
  readonly maxBytes: number;
  /** `local`: wrapped under CACHE_MASTER_KEY[_FILE]; `kms`: GenerateDataKey under KMS_KEY_ID. */
  readonly dataKeys:
    | { readonly kind: 'local'; readonly masterKey: { readonly kind: 'env'; readonly hex: string } | { readonly kind: 'file'; readonly path: string } }
    | { readonly kind: 'kms'; readonly kmsKeyId: string };
}

/** WORKLOAD_IDENTITY=spiffe: this server's SPIFFE ID, from spiffe-helper's files or the Workload API. */
export type WorkloadIdentityConfig =
  | { readonly kind: 'spiffe-files'; readonly certFile: string; readonly bundleFile: string; readonly trustDomain: string | undefined }
  | { readonly kind: 'spiffe-workload-api'; readonly socket: string; readonly trustDomain: string | undefined };

export interface Config {
  readonly fhir: FhirConfig;
  /** Absent: records carry `workload_identity: null`. */
  readonly workload: WorkloadIdentityConfig | undefined;
  /** Absent: nothing is cached. */
  readonly cache: CacheConfig | undefined;
  readonly audit: AuditConfig;
  readonly keySource: KeySource;
  readonly callerIdentity: CallerIdentity;
  readonly maxObservations: number;
  readonly patientOutput: PatientOutputPolicy;
  readonly logLevel: LogLevel;
}

/** Where audit records go: a local file (the default) or a CloudWatch Logs group. */
export type AuditConfig =
  | {
      readonly kind: 'file';
      readonly path: string;
      /** AUDIT_ROTATE: start a new file past a size and/or each UTC day; the chain continues. */
      readonly rotate: { readonly maxBytes?: number; readonly daily?: boolean };
    }
  | { readonly kind: 'cloudwatch'; readonly logGroup: string; readonly logStream: string | undefined };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface ConfigProblem {
  readonly variable: string;
  readonly problem: string;
}

export const KEY_HOW_TO =
  `Generate one with: openssl rand -hex ${MIN_HMAC_KEY_BYTES}  (or: node -p "require('node:crypto').randomBytes(${MIN_HMAC_KEY_BYTES}).toString('hex')")`;

/** At least MIN_HMAC_KEY_BYTES bytes, written as hex; surrounding white space is ignored. */
export const HexKey = new t.Type<string, string, unknown>(
  'HexKey',
  (u): u is string => typeof u === 'string',
  (u, c) =>
    typeof u === 'string' && /^(?:[0-9a-fA-F]{2}){32,}$/.test(u.trim()) && u.trim().length >= MIN_HMAC_KEY_BYTES * 2
      ? t.success(u.trim().toLowerCase())
      : t.failure(u, c),
  (hex) => hex,
);

const IntFromString = (min: number, max: number) =>
  new t.Type<number, string, unknown>(
    `IntFromString(${min}..${max})`,
    (u): u is number => typeof u === 'number',
    (u, c) => {
      const n = typeof u === 'string' && /^\d+$/.test(u) ? Number(u) : Number.NaN;
      return Number.isInteger(n) && n >= min && n <= max ? t.success(n) : t.failure(u, c);
    },
    String,
  );

const MaxResults = IntFromString(1, 1000);
const PatientOutput = t.keyof({ 'minimum-necessary': null, full: null });
const LogLevelCodec = t.keyof({ debug: null, info: null, warn: null, error: null, silent: null });
const TimeoutMs = IntFromString(100, 120_000);

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** https, or http to this machine only; no credentials, query or fragment in the URL. */
const FhirBaseUrl = new t.Type<string, string, unknown>(
  'FhirBaseUrl',
  (u): u is string => typeof u === 'string',
  (u, c) => {
    try {
      const url = new URL(typeof u === 'string' ? u : '');
      const transport = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
      const clean = url.username === '' && url.password === '' && url.search === '' && url.hash === '' && !/[?#]/.test(String(u));
      return transport && clean ? t.success(`${url.origin}${url.pathname}`) : t.failure(u, c);
    } catch {
      return t.failure(u, c);
    }
  },
  (url) => url,
);

/** FHIR_BACKEND=healthlake: the data store by endpoint, or by AWS_REGION and HEALTHLAKE_DATASTORE_ID. */
const decodeHealthLake = (env: NodeJS.ProcessEnv, problem: (variable: string, text: string) => void): FhirConfig | undefined => {
  for (const name of ['FHIR_BASE_URL', 'FHIR_DATA_DIR', 'FHIR_AUTH']) {
    if (set(env, name) !== undefined) problem(name, 'does not apply with FHIR_BACKEND=healthlake (which signs with AWS SigV4).');
  }
  const named = set(env, 'HEALTHLAKE_DATASTORE_ENDPOINT');
  const datastoreId = set(env, 'HEALTHLAKE_DATASTORE_ID');
  const endpointRegion = /^healthlake\.([a-z0-9-]+)\.amazonaws\.com$/.exec(named === undefined ? '' : new URL(named, 'http://x').hostname)?.[1];
  const region = set(env, 'AWS_REGION') ?? endpointRegion;
  if (endpointRegion !== undefined && region !== endpointRegion) {
    problem('AWS_REGION', `differs from the region in HEALTHLAKE_DATASTORE_ENDPOINT (${endpointRegion}); requests would be signed for the wrong region.`);
    return undefined;
  }
  if (region === undefined || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    problem('AWS_REGION', 'is required with FHIR_BACKEND=healthlake (unless the endpoint names it), e.g. us-east-1.');
    return undefined;
  }
  if ((named === undefined) === (datastoreId === undefined)) {
    problem('HEALTHLAKE_DATASTORE_ENDPOINT', 'or HEALTHLAKE_DATASTORE_ID (exactly one) is required with FHIR_BACKEND=healthlake.');
    return undefined;
  }
  if (datastoreId !== undefined && !/^[a-f0-9]{32}$/.test(datastoreId)) {
    problem('HEALTHLAKE_DATASTORE_ID', 'must be a HealthLake data store id: 32 lowercase hex characters.');
    return undefined;
  }
  const endpoint = named !== undefined ? FhirBaseUrl.decode(named) : E.right(`https://healthlake.${region}.amazonaws.com/datastore/${datastoreId}/r4/`);
  if (E.isLeft(endpoint)) {
    problem('HEALTHLAKE_DATASTORE_ENDPOINT', 'must be an https URL (http only for 127.0.0.1 or localhost) without credentials, query or fragment.');
    return undefined;
  }
  const timeout = TimeoutMs.decode(set(env, 'FHIR_TIMEOUT_MS') ?? '10000');
  if (E.isLeft(timeout)) {
    problem('FHIR_TIMEOUT_MS', 'must be a whole number of milliseconds from 100 to 120000.');
    return undefined;
  }
  return { kind: 'healthlake', endpoint: endpoint.right, region, timeoutMs: timeout.right };
};

const decodeFhirConfig = (env: NodeJS.ProcessEnv, cwd: string, problem: (variable: string, text: string) => void): FhirConfig | undefined => {
  const backend = set(env, 'FHIR_BACKEND');
  if (backend === 'healthlake') return decodeHealthLake(env, problem);
  if (backend !== undefined && backend !== 'files' && backend !== 'http') {
    problem('FHIR_BACKEND', 'must be files, http or healthlake (unset: http when FHIR_BASE_URL is set, else files).');
    return undefined;
  }
  const baseUrl = set(env, 'FHIR_BASE_URL');
  if (backend === 'http' && baseUrl === undefined) problem('FHIR_BASE_URL', 'is required with FHIR_BACKEND=http.');
  if (backend === 'files' && baseUrl !== undefined) problem('FHIR_BASE_URL', 'is set, but FHIR_BACKEND is files.');
  if (baseUrl === undefined) {
    for (const name of ['FHIR_AUTH', 'FHIR_AUTH_TOKEN', 'SMART_CLIENT_ID', 'SMART_PRIVATE_KEY_FILE', 'SMART_LOGIN_FILE']) {
      if (set(env, name) !== undefined) problem(name, 'is set, but FHIR_BASE_URL is not: it only applies to a FHIR REST server.');
    }
    return { kind: 'files', dir: resolve(cwd, set(env, 'FHIR_DATA_DIR') ?? embeddedDataDir) };
  }
  if (set(env, 'FHIR_DATA_DIR') !== undefined) problem('FHIR_DATA_DIR', 'is set together with FHIR_BASE_URL; set only one of them.');
  const url = FhirBaseUrl.decode(baseUrl);
  if (E.isLeft(url)) problem('FHIR_BASE_URL', 'must be an https URL (http only for 127.0.0.1 or localhost) without credentials, query or fragment.');
  const timeout = TimeoutMs.decode(set(env, 'FHIR_TIMEOUT_MS') ?? '10000');
  if (E.isLeft(timeout)) problem('FHIR_TIMEOUT_MS', 'must be a whole number of milliseconds from 100 to 120000.');

  let auth: FhirAuthConfig | undefined;
  const mode = set(env, 'FHIR_AUTH') ?? 'none';
  if (mode === 'none') auth = { kind: 'none' };
  else if (mode === 'bearer') {
    const token = set(env, 'FHIR_AUTH_TOKEN');
    if (token === undefined) problem('FHIR_AUTH_TOKEN', 'is required when FHIR_AUTH=bearer.');
    else auth = { kind: 'bearer', token };
  } else if (mode === 'smart-backend') {
    const clientId = set(env, 'SMART_CLIENT_ID');
    const keyFile = set(env, 'SMART_PRIVATE_KEY_FILE');
    const keyId = set(env, 'SMART_KEY_ID');
    if (clientId === undefined) problem('SMART_CLIENT_ID', 'is required when FHIR_AUTH=smart-backend.');
    if (keyFile === undefined) problem('SMART_PRIVATE_KEY_FILE', 'is required when FHIR_AUTH=smart-backend: a PEM RSA or P-384 EC private key.');
    if (keyId === undefined) problem('SMART_KEY_ID', "is required when FHIR_AUTH=smart-backend: the kid of the key in the client's registered JWKS.");
    if (clientId !== undefined && keyFile !== undefined && keyId !== undefined) {
      auth = { kind: 'smart-backend', clientId, privateKeyFile: resolve(cwd, keyFile), keyId, scopes: set(env, 'SMART_SCOPES') };
    }
  } else if (mode === 'smart-user') {
    const clientId = set(env, 'SMART_CLIENT_ID');
    if (clientId === undefined) problem('SMART_CLIENT_ID', 'is required when FHIR_AUTH=smart-user: the public client registered for hipaa-fhir-mcp login.');
    else {
      const loginFile = resolve(cwd, set(env, 'SMART_LOGIN_FILE') ?? resolve(homedir(), '.hipaa-fhir-mcp', 'smart-login'));
      auth = { kind: 'smart-user', clientId, loginFile, scopes: set(env, 'SMART_SCOPES') };
    }
  } else {
    problem('FHIR_AUTH', 'must be none, bearer, smart-backend or smart-user.');
  }
  if (E.isLeft(url) || E.isLeft(timeout) || auth === undefined) return undefined;
  return { kind: 'http', baseUrl: url.right, timeoutMs: timeout.right, auth };
};
const NonEmpty = t.refinement(t.string, (s) => s.trim() !== '', 'NonEmpty');

/** Documented in the README's configuration table; keep the two in step. */
export const ENV_VARS = [
  'FHIR_BACKEND',
  'HEALTHLAKE_DATASTORE_ENDPOINT',
  'HEALTHLAKE_DATASTORE_ID',
  'FHIR_BASE_URL',
  'FHIR_AUTH',
  'FHIR_AUTH_TOKEN',
  'SMART_CLIENT_ID',
  'SMART_PRIVATE_KEY_FILE',
  'SMART_KEY_ID',
  'SMART_SCOPES',
  'SMART_LOGIN_FILE',
  'FHIR_TIMEOUT_MS',
  'FHIR_DATA_DIR',
  'FHIR_MAX_RESULTS',
  'AUDIT_LOG_FILE',
  'AUDIT_HMAC_KEY',
  'AUDIT_HMAC_KEY_FILE',
  'KEY_PROVIDER',
  'AUDIT_HMAC_KEY_CIPHERTEXT',
  'AUDIT_HMAC_KEY_CIPHERTEXT_FILE',
  'CALLER_IDENTITY',
  'PHI_OUTPUT_POLICY',
  'LOG_LEVEL',
  'AUDIT_ROTATE',
  'AUDIT_SINK',
  'AUDIT_LOG_GROUP',
  'AUDIT_LOG_STREAM',
  'KMS_KEY_ID',
  'CACHE_DIR',
  'CACHE_TTL_SECONDS',
  'CACHE_MAX_SIZE',
  'CACHE_MASTER_KEY',
  'CACHE_MASTER_KEY_FILE',
  'HTTP_HOST',
  'HTTP_PORT',
  'HTTP_ALLOWED_HOSTS',
  'HTTP_ALLOWED_ORIGINS',
  'HTTP_AUTH',
  'OAUTH_ISSUER',
  'OAUTH_RESOURCE',
  'OAUTH_JWKS_URI',
  'WORKLOAD_IDENTITY',
  'SPIFFE_SVID_FILE',
  'SPIFFE_BUNDLE_FILE',
  'SPIFFE_ENDPOINT_SOCKET',
  'SPIFFE_TRUST_DOMAIN',
] as const;

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, B: 1, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3 };

/** A size such as `64MiB` (B, KiB, MiB or GiB) of at least 1 KiB, in bytes; undefined if it is not one. */
export const parseSize = (value: string): number | undefined => {
  const size = /^(\d+)\s*(B|KiB|MiB|GiB)?$/i.exec(value);
  const bytes = size === null ? Number.NaN : Number(size[1]) * (SIZE_UNITS[(size[2] ?? '').toUpperCase()] ?? Number.NaN);
  return Number.isSafeInteger(bytes) && bytes >= 1024 ? bytes : undefined;
};

/** `none`, or any of `daily` and a size such as `64MiB`, comma-separated: `daily,64MiB`. */
export const parseRotation = (value: string): { maxBytes?: number; daily?: boolean } | undefined => {
  if (value === 'none') return {};
  let rotation: { maxBytes?: number; daily?: boolean } = {};
  for (const part of value.split(',').map((p) => p.trim())) {
    if (part === 'daily') rotation = { ...rotation, daily: true };
    else {
      const bytes = parseSize(part);
      if (bytes === undefined || rotation.maxBytes !== undefined) return undefined;
      rotation = { ...rotation, maxBytes: bytes };
    }
  }
  return rotation;
};

const CacheTtlSeconds = IntFromString(1, 86_400);

/** The cache's local master key: exactly 32 bytes (AES-256), as 64 hex digits. */
export const CacheMasterKey = t.refinement(t.string, (s) => /^[0-9a-f]{64}$/.test(s), 'CacheMasterKey');
export const CACHE_KEY_HOW_TO = 'Generate one with: openssl rand -hex 32';

/** CACHE_DIR and its settings; undefined (and no problem) when CACHE_DIR is unset. */
const decodeCacheConfig = (env: NodeJS.ProcessEnv, cwd: string, keyProvider: string, problem: (variable: string, text: string) => void): CacheConfig | undefined => {
  const dir = set(env, 'CACHE_DIR');
  if (dir === undefined) {
    for (const name of ['CACHE_TTL_SECONDS', 'CACHE_MAX_SIZE', 'CACHE_MASTER_KEY', 'CACHE_MASTER_KEY_FILE']) {
      if (set(env, name) !== undefined) problem(name, 'is set, but CACHE_DIR is not: set CACHE_DIR to cache FHIR results (encrypted).');
    }
    return undefined;
  }
  const ttl = CacheTtlSeconds.decode(set(env, 'CACHE_TTL_SECONDS') ?? '300');
  if (E.isLeft(ttl)) problem('CACHE_TTL_SECONDS', 'must be a whole number of seconds from 1 to 86400.');
  const maxBytes = parseSize(set(env, 'CACHE_MAX_SIZE') ?? '64MiB');
  if (maxBytes === undefined) problem('CACHE_MAX_SIZE', 'must be a size of at least 1KiB, such as 64MiB.');
  const masterHex = set(env, 'CACHE_MASTER_KEY');
  const masterFile = set(env, 'CACHE_MASTER_KEY_FILE');
  let dataKeys: CacheConfig['dataKeys'] | undefined;
  if (keyProvider === 'kms') {
    const kmsKeyId = set(env, 'KMS_KEY_ID');
    if (masterHex !== undefined || masterFile !== undefined) problem('CACHE_MASTER_KEY', 'must not be set with KEY_PROVIDER=kms: the cache\'s data keys then come from KMS.');
    else if (kmsKeyId === undefined) problem('KMS_KEY_ID', 'is required with KEY_PROVIDER=kms and CACHE_DIR: the KMS key that makes the cache\'s data keys.');
    else dataKeys = { kind: 'kms', kmsKeyId };
  } else if ((masterHex === undefined) === (masterFile === undefined)) {
    problem('CACHE_MASTER_KEY', `or CACHE_MASTER_KEY_FILE (exactly one) is required with CACHE_DIR: 32 random bytes as hex, a key of its own (not the audit key). ${CACHE_KEY_HOW_TO}`);
  } else if (masterFile !== undefined) {
    dataKeys = { kind: 'local', masterKey: { kind: 'file', path: resolve(cwd, masterFile) } };
  } else if (CacheMasterKey.is(masterHex?.trim().toLowerCase())) {
    dataKeys = { kind: 'local', masterKey: { kind: 'env', hex: (masterHex as string).trim().toLowerCase() } };
  } else {
    problem('CACHE_MASTER_KEY', `must be exactly 32 bytes written as hex (64 hex digits). ${CACHE_KEY_HOW_TO}`);
  }
  if (E.isLeft(ttl) || maxBytes === undefined || dataKeys === undefined) return undefined;
  return { dir: resolve(cwd, dir), ttlMs: ttl.right * 1_000, maxBytes, dataKeys };
};

const set = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
};

/** Decodes the environment into a Config, or lists every problem found. */
export const decodeConfig = (env: NodeJS.ProcessEnv, cwd: string = process.cwd()): E.Either<ConfigProblem[], Config> => {
  const problems: ConfigProblem[] = [];
  const problem = (variable: string, text: string): void => void problems.push({ variable, problem: text });

  const fhir = decodeFhirConfig(env, cwd, problem);

  const auditSink = set(env, 'AUDIT_SINK') ?? 'file';
  const auditPath = set(env, 'AUDIT_LOG_FILE');
  const logGroup = set(env, 'AUDIT_LOG_GROUP');
  if (auditSink === 'file') {
    if (auditPath === undefined || !NonEmpty.is(auditPath)) problem('AUDIT_LOG_FILE', 'is required: the path of the JSON Lines audit log (created 0600 if missing).');
    if (logGroup !== undefined) problem('AUDIT_LOG_GROUP', 'is set, but AUDIT_SINK is file: set AUDIT_SINK=cloudwatch to use it.');
  } else if (auditSink === 'cloudwatch') {
    if (logGroup === undefined || !/^[\w./#-]{1,512}$/.test(logGroup)) problem('AUDIT_LOG_GROUP', 'is required with AUDIT_SINK=cloudwatch: an existing CloudWatch Logs group name.');
    if (auditPath !== undefined) problem('AUDIT_LOG_FILE', 'is set, but AUDIT_SINK is cloudwatch: set only one destination.');
  } else {
    problem('AUDIT_SINK', 'must be file or cloudwatch.');
  }
  const logStream = set(env, 'AUDIT_LOG_STREAM');
  // 500, not CloudWatch's 512: the sink may go on in `<stream>/<n>`.
  if (logStream !== undefined && !/^[^:*]{1,500}$/.test(logStream)) problem('AUDIT_LOG_STREAM', 'must be 1-500 characters without : or *.');

  const keyHex = set(env, 'AUDIT_HMAC_KEY');
  const keyFile = set(env, 'AUDIT_HMAC_KEY_FILE');
  const keyProvider = set(env, 'KEY_PROVIDER') ?? 'env';
  let keySource: KeySource | undefined;
  if (keyProvider === 'kms') {
    const ciphertext = set(env, 'AUDIT_HMAC_KEY_CIPHERTEXT');
    const ciphertextFile = set(env, 'AUDIT_HMAC_KEY_CIPHERTEXT_FILE');
    const kmsKeyId = set(env, 'KMS_KEY_ID');
    if (kmsKeyId !== undefined && !/^[!-~]{1,2048}$/.test(kmsKeyId)) problem('KMS_KEY_ID', 'must be a KMS key id, key ARN, alias name or alias ARN.');
    const underKey = kmsKeyId === undefined ? {} : { kmsKeyId };
    if (keyHex !== undefined || keyFile !== undefined) problem('KEY_PROVIDER', 'is kms, so AUDIT_HMAC_KEY and AUDIT_HMAC_KEY_FILE must not be set: the key exists only as a KMS ciphertext.');
    else if ((ciphertext === undefined) === (ciphertextFile === undefined)) {
      problem('AUDIT_HMAC_KEY_CIPHERTEXT', 'or AUDIT_HMAC_KEY_CIPHERTEXT_FILE (exactly one) is required with KEY_PROVIDER=kms; make one with: hipaa-fhir-mcp keys create --kms-key-id <key>');
    } else if (ciphertext !== undefined) {
      if (/^[A-Za-z0-9+/]+={0,2}$/.test(ciphertext.trim())) keySource = { kind: 'kms', ciphertext: ciphertext.trim(), ...underKey };
      else problem('AUDIT_HMAC_KEY_CIPHERTEXT', 'must be base64, as hipaa-fhir-mcp keys create prints it.');
    } else keySource = { kind: 'kms-file', path: resolve(cwd, ciphertextFile as string), ...underKey };
  } else if (keyProvider !== 'env') {
    problem('KEY_PROVIDER', 'must be env (AUDIT_HMAC_KEY or AUDIT_HMAC_KEY_FILE) or kms (AUDIT_HMAC_KEY_CIPHERTEXT[_FILE]).');
  } else if (keyHex !== undefined && keyFile !== undefined) {
    problem('AUDIT_HMAC_KEY', 'is set together with AUDIT_HMAC_KEY_FILE; set only one of them.');
  } else if (keyFile !== undefined) {
    keySource = { kind: 'file', path: resolve(cwd, keyFile) };
  } else if (keyHex === undefined) {
    problem('AUDIT_HMAC_KEY', `is required (or AUDIT_HMAC_KEY_FILE): at least ${MIN_HMAC_KEY_BYTES} random bytes as hex. ${KEY_HOW_TO}`);
  } else {
    const decoded = HexKey.decode(keyHex);
    if (E.isLeft(decoded)) {
      problem('AUDIT_HMAC_KEY', `must be at least ${MIN_HMAC_KEY_BYTES} bytes written as hex (${MIN_HMAC_KEY_BYTES * 2}+ hex digits). ${KEY_HOW_TO}`);
    } else {
      keySource = { kind: 'env', hex: decoded.right };
    }
  }

  const cache = decodeCacheConfig(env, cwd, keyProvider, problem);
  const workload = decodeWorkloadIdentity(env, cwd, problem);

  const caller = CallerIdentity.decode(set(env, 'CALLER_IDENTITY') ?? `os-user:${userInfo().username}`);
  if (E.isLeft(caller)) problem('CALLER_IDENTITY', 'must be 1 to 256 printable ASCII characters, not starting or ending with a space.');

  const maxResults = MaxResults.decode(set(env, 'FHIR_MAX_RESULTS') ?? '100');
  if (E.isLeft(maxResults)) problem('FHIR_MAX_RESULTS', 'must be a whole number from 1 to 1000.');

  const patientOutput = PatientOutput.decode(set(env, 'PHI_OUTPUT_POLICY') ?? 'minimum-necessary');
  if (E.isLeft(patientOutput)) problem('PHI_OUTPUT_POLICY', 'must be minimum-necessary or full.');
  const logLevel = LogLevelCodec.decode(set(env, 'LOG_LEVEL') ?? 'info');
  if (E.isLeft(logLevel)) problem('LOG_LEVEL', 'must be debug, info, warn, error or silent.');
  const auditRotate = parseRotation(set(env, 'AUDIT_ROTATE') ?? 'none');
  if (auditRotate === undefined) problem('AUDIT_ROTATE', 'must be none, daily, a size of at least 1KiB such as 64MiB, or daily,64MiB.');

  if (
    problems.length > 0 ||
    fhir === undefined ||
    (auditSink === 'file' ? auditPath === undefined : logGroup === undefined) ||
    keySource === undefined ||
    E.isLeft(caller) ||
    E.isLeft(maxResults) ||
    E.isLeft(patientOutput) ||
    E.isLeft(logLevel) ||
    auditRotate === undefined
  ) {
    return E.left(problems);
  }
  return E.right({
    fhir,
    workload,
    cache,
    audit:
      auditSink === 'file'
        ? { kind: 'file', path: resolve(cwd, auditPath as string), rotate: auditRotate }
        : { kind: 'cloudwatch', logGroup: logGroup as string, logStream },
    keySource,
    callerIdentity: caller.right,
    maxObservations: maxResults.right,
    patientOutput: patientOutput.right,
    logLevel: logLevel.right,
  });
};

const decodeWorkloadIdentity = (env: NodeJS.ProcessEnv, cwd: string, problem: (variable: string, text: string) => void): WorkloadIdentityConfig | undefined => {
  const mode = set(env, 'WORKLOAD_IDENTITY') ?? 'none';
  const trustDomain = set(env, 'SPIFFE_TRUST_DOMAIN');
  if (trustDomain !== undefined && !/^[a-z0-9._-]{1,255}$/.test(trustDomain)) problem('SPIFFE_TRUST_DOMAIN', 'must be a trust domain name such as clinic.example (lowercase letters, digits, . _ -).');
  if (mode === 'none') {
    for (const name of ['SPIFFE_SVID_FILE', 'SPIFFE_BUNDLE_FILE']) if (set(env, name) !== undefined) problem(name, 'is set, but WORKLOAD_IDENTITY is not spiffe.');
    return undefined;
  }
  if (mode !== 'spiffe') {
    problem('WORKLOAD_IDENTITY', 'must be none (the default) or spiffe.');
    return undefined;
  }
  const certFile = set(env, 'SPIFFE_SVID_FILE');
  const bundleFile = set(env, 'SPIFFE_BUNDLE_FILE');
  const socket = set(env, 'SPIFFE_ENDPOINT_SOCKET');
  if (certFile !== undefined || bundleFile !== undefined) {
    if (certFile === undefined || bundleFile === undefined) {
      problem(certFile === undefined ? 'SPIFFE_SVID_FILE' : 'SPIFFE_BUNDLE_FILE', "is required with the other: spiffe-helper's svid_file_name and svid_bundle_file_name.");
      return undefined;
    }
    return { kind: 'spiffe-files', certFile: resolve(cwd, certFile), bundleFile: resolve(cwd, bundleFile), trustDomain };
  }
  if (socket === undefined || !/^(unix:\/\/\/|tcp:\/\/)/.test(socket)) {
    problem('SPIFFE_ENDPOINT_SOCKET', 'or SPIFFE_SVID_FILE and SPIFFE_BUNDLE_FILE is required with WORKLOAD_IDENTITY=spiffe: the Workload API as unix:///path or tcp://ip:port.');
    return undefined;
  }
  return { kind: 'spiffe-workload-api', socket, trustDomain };
};

/** `hipaa-fhir-mcp serve --http`: where to listen, what to accept, and the OAuth resource server. */
export interface HttpConfig {
  readonly host: string;
  readonly port: number;
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
  /** `none` only on loopback: then CALLER_IDENTITY names the caller, as over stdio. */
  readonly auth: { readonly issuer: string; readonly resource: string; readonly jwksUri?: string } | 'none';
}

const Port = IntFromString(0, 65_535);
const list = (value: string | undefined): string[] => (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
/** https, or http on loopback; no credentials, query or fragment. */
const isServiceUrl = (value: string): boolean => E.isRight(FhirBaseUrl.decode(value)) && !value.endsWith('/');

/** Decodes the HTTP transport's settings; only read with `serve --http`. */
export const decodeHttpConfig = (env: NodeJS.ProcessEnv): E.Either<ConfigProblem[], HttpConfig> => {
  const problems: ConfigProblem[] = [];
  const problem = (variable: string, text: string): void => void problems.push({ variable, problem: text });
  // One user's login would read FHIR for every HTTP caller, while the records name each token's user.
  if (set(env, 'FHIR_AUTH') === 'smart-user') problem('FHIR_AUTH', 'is smart-user, which is for stdio only: with serve --http, read FHIR with the server\'s own credentials (smart-backend).');
  const host = set(env, 'HTTP_HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:[\]-]{1,253}$/.test(host)) problem('HTTP_HOST', 'must be an interface address or name, e.g. 127.0.0.1 (the default) or 0.0.0.0.');
  const port = Port.decode(set(env, 'HTTP_PORT') ?? '8080');
  if (E.isLeft(port)) problem('HTTP_PORT', 'must be a port number from 0 to 65535 (default 8080).');
  const mode = set(env, 'HTTP_AUTH') ?? 'oauth';
  let auth: HttpConfig['auth'] | undefined;
  if (mode === 'none') {
    if (!LOOPBACK.has(host) && host !== '::1') problem('HTTP_AUTH', 'is none, which is allowed only on a loopback HTTP_HOST (127.0.0.1, localhost or ::1).');
    else auth = 'none';
  } else if (mode === 'oauth') {
    const issuer = set(env, 'OAUTH_ISSUER');
    const resource = set(env, 'OAUTH_RESOURCE');
    const jwksUri = set(env, 'OAUTH_JWKS_URI');
    // An issuer may end in a slash (some servers' do); it must match tokens' `iss` exactly.
    if (issuer === undefined || E.isLeft(FhirBaseUrl.decode(issuer))) problem('OAUTH_ISSUER', "is required with serve --http: the authorization server's issuer URL (https; http only on loopback), exactly as tokens' iss.");
    if (resource === undefined || !isServiceUrl(resource)) problem('OAUTH_RESOURCE', 'is required with serve --http: the URL clients use for this server, e.g. https://mcp.example.org/mcp (tokens must name it as audience).');
    if (jwksUri !== undefined && E.isLeft(FhirBaseUrl.decode(jwksUri))) problem('OAUTH_JWKS_URI', "must be an https URL of the authorization server's JWKS.");
    if (issuer !== undefined && resource !== undefined) auth = { issuer, resource, ...(jwksUri === undefined ? {} : { jwksUri }) };
  } else problem('HTTP_AUTH', 'must be oauth (the default) or none.');
  if (problems.length > 0 || E.isLeft(port) || auth === undefined) return E.left(problems);
  return E.right({ host, port: port.right, allowedHosts: list(set(env, 'HTTP_ALLOWED_HOSTS')), allowedOrigins: list(set(env, 'HTTP_ALLOWED_ORIGINS')), auth });
};
