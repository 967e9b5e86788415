// The composition root: configuration → adapters → core → MCP server. The only place that builds
// `Deps`; the only place that knows which adapter serves which port.
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { hostname } from 'node:os';
import { AuditFileError, type CheckpointSigner, makeFileAuditSink } from '@hipaa-fhir-mcp/audit-file';
import {
  type AuditSink,
  type CallerIdentity,
  callerIdentityFromClaims,
  type Deps,
  type FhirRepository,
  fhirError,
  type HmacKey,
  type IdentityProvider,
  type PhiCache,
} from '@hipaa-fhir-mcp/core';
import type { SvidProblem, WorkloadIdentitySource } from '@hipaa-fhir-mcp/identity-spiffe';
import { makeFilesFhirRepository } from '@hipaa-fhir-mcp/fhir-files';
import { createMcpServer, type FhirMcpServer, type ToolCallEvent } from '@hipaa-fhir-mcp/mcp-stdio';
import {
  type AuditConfig,
  type CacheConfig,
  type ConfigProblem,
  decodeConfig,
  decodeHttpConfig,
  type FhirConfig,
  type HttpConfig,
  type WorkloadIdentityConfig,
} from './config.js';
import { checkpointSignerFor, KMS_SDK_MISSING, loadCacheMasterKey, loadHmacKey, staticKeyProvider } from './keys.js';
import { openLogin, readLoginFile, sealLogin, withLoginLock, writeLoginFile } from './loginStore.js';
import { errorClassOf, type OperationalLog, stackFramesOf } from './operationalLog.js';

export const SERVER_NAME = 'hipaa-fhir-mcp';
// The single-file build defines the version; unbundled, it is read from package.json.
declare const __HFM_VERSION__: string | undefined;
export const VERSION: string =
  typeof __HFM_VERSION__ === 'string' ? __HFM_VERSION__ : (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface RunningServer {
  /** The MCP server for stdio, made on first call (`serve --http` makes one per request instead). */
  readonly stdioServer: () => FhirMcpServer;
  readonly keyId: string;
  /** Pin this to verify the audit log's signed checkpoints. */
  readonly checkpointPublicKey: string;
  readonly fhirBackend: FhirConfig['kind'];
  readonly auditSink: AuditConfig['kind'];
  /** Where cached data keys come from, or `off` without CACHE_DIR. */
  readonly cache: 'off' | CacheConfig['dataKeys']['kind'];
  /** With `serve --http`: starts listening (see HTTP_*, OAUTH_*). */
  readonly serveHttp: (() => Promise<{ readonly url: string; readonly close: () => Promise<void> }>) | undefined;
  /** Flushes and closes the audit sink (and stops the cache). Call once the transport has answered everything. */
  readonly close: () => Promise<void>;
}

/** Why the server cannot start: configuration problems, each naming its variable. */
export type StartFailure = readonly ConfigProblem[];

/**
 * The FhirRepository the configuration names. The HTTP adapter (got, jose) is loaded only when
 * selected, so the default start does not pay for it. With a SMART user's login, also who that user is.
 */
interface BuiltFhir {
  readonly repository: FhirRepository;
  /** With a SMART user's login, who FHIR is read as: the caller over stdio, and their own cache. */
  readonly readsAs?: CallerIdentity;
}

const only = (repository: FhirRepository): E.Either<StartFailure, BuiltFhir> => E.right({ repository });

const buildFhirRepository = async (fhir: FhirConfig, key: HmacKey, log: OperationalLog): Promise<E.Either<StartFailure, BuiltFhir>> => {
  if (fhir.kind === 'files') {
    const dataDir = await stat(fhir.dir).catch(() => undefined);
    if (dataDir?.isDirectory() !== true) {
      return E.left([{ variable: 'FHIR_DATA_DIR', problem: 'is not a readable directory of FHIR Bundle files.' }]);
    }
    return only(makeFilesFhirRepository({ dir: fhir.dir }));
  }
  if (fhir.kind === 'healthlake') {
    const healthLake = await import('@hipaa-fhir-mcp/fhir-healthlake').catch(() => undefined);
    try {
      if (healthLake === undefined) throw new Error('missing');
      return only(await healthLake.makeHealthLakeFhirRepository({ endpoint: fhir.endpoint, region: fhir.region, timeoutMs: fhir.timeoutMs }));
    } catch {
      return E.left([{ variable: 'FHIR_BACKEND', problem: 'is healthlake, which needs the AWS SDK credential providers beside the server: npm install @aws-sdk/credential-providers' }]);
    }
  }
  const http = await import('@hipaa-fhir-mcp/fhir-http');
  const common = { baseUrl: fhir.baseUrl, timeoutMs: fhir.timeoutMs };
  switch (fhir.auth.kind) {
    case 'none':
      return only(http.makeHttpFhirRepository(common));
    case 'bearer':
      return only(http.makeHttpFhirRepository({ ...common, auth: http.bearerAuth(fhir.auth.token) }));
    case 'smart-backend': {
      const variable = 'SMART_PRIVATE_KEY_FILE';
      const info = await stat(fhir.auth.privateKeyFile).catch(() => undefined);
      if (info?.isFile() !== true) return E.left([{ variable, problem: 'cannot be read.' }]);
      if ((info.mode & 0o077) !== 0) return E.left([{ variable, problem: 'is readable or writable by group or others; run: chmod 600 on it.' }]);
      try {
        const auth = http.smartBackendAuth({
          ...common,
          clientId: fhir.auth.clientId,
          keyId: fhir.auth.keyId,
          scopes: fhir.auth.scopes,
          privateKeyPem: await readFile(fhir.auth.privateKeyFile, 'utf8'),
        });
        return only(http.makeHttpFhirRepository({ ...common, auth }));
      } catch (error) {
        if (error instanceof http.SmartKeyError) return E.left([{ variable, problem: error.message }]);
        throw error;
      }
    }
    case 'smart-user': {
      const { clientId, loginFile } = fhir.auth;
      const readLogin = async () => {
        const sealed = await readLoginFile(loginFile);
        const login = sealed === undefined ? undefined : openLogin(key, fhir.baseUrl, sealed);
        return login?.clientId === clientId ? login : undefined;
      };
      const login = await readLogin();
      const user = login === undefined ? undefined : callerIdentityFromClaims({ fhirUser: login.fhirUser, sub: login.sub }, key, { patientFacing: login.patientFacing });
      if (login === undefined || user === undefined) {
        return E.left([{ variable: 'SMART_LOGIN_FILE', problem: 'holds no login for this FHIR server, client and audit key: run hipaa-fhir-mcp login (with these settings).' }]);
      }
      const auth = http.smartUserAuth({
        tokenEndpoint: login.tokenEndpoint,
        clientId,
        timeoutMs: fhir.timeoutMs,
        // Each refresh holds the login file, uses the refresh token at rest now (another server may have
        // rotated it), and keeps the rotated one. Another user's login in its place ends this one.
        refreshExclusively: (refresh) =>
          withLoginLock(loginFile, async () => {
            const current = await readLogin();
            if (current === undefined || current.sub !== login.sub) return E.left(fhirError('AuthFailed'));
            const refreshed = await refresh(current.refreshToken);
            if (E.isRight(refreshed) && refreshed.right.rotated !== undefined) {
              await writeLoginFile(loginFile, sealLogin(key, fhir.baseUrl, { ...current, refreshToken: refreshed.right.rotated })).catch(() =>
                log({ event: 'smart_login_not_saved' }),
              );
            }
            return refreshed;
          }).catch(() => E.left(fhirError('Unavailable', true))),
      });
      return E.right({ repository: http.makeHttpFhirRepository({ ...common, auth }), readsAs: user });
    }
  }
};

type ClosableSink = AuditSink & { readonly close: () => Promise<void> };

/**
 * The AuditSink the configuration names. The CloudWatch adapter and its AWS SDK (an optional peer
 * dependency) are loaded only when selected.
 */
// One attempt per request (the sink retries only what AWS refused whole: PutLogEvents is not
// idempotent), and deadlines, so that a stalled connection fails the batch instead of holding every
// call: a request must connect in 2 s and be answered in 5 s.
const CLOUDWATCH_CLIENT_OPTIONS = { maxAttempts: 1, requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true } } as const;

/**
 * The cache's KMS client: deadlines, so that a KMS that stalls is a cache miss in seconds (the call
 * goes on to FHIR) rather than a call that hangs; two attempts (GenerateDataKey and Decrypt are safe to repeat).
 */
const CACHE_KMS_CLIENT_OPTIONS = { maxAttempts: 2, requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true } } as const;

const buildAuditSink = async (audit: AuditConfig, signer: CheckpointSigner): Promise<E.Either<StartFailure, ClosableSink>> => {
  if (audit.kind === 'file') {
    try {
      return E.right(await makeFileAuditSink({ path: audit.path, signer, rotate: audit.rotate }));
    } catch (error) {
      if (error instanceof AuditFileError) return E.left([{ variable: 'AUDIT_LOG_FILE', problem: error.message }]);
      throw error;
    }
  }
  let modules;
  try {
    modules = await Promise.all([import('@aws-sdk/client-cloudwatch-logs'), import('@hipaa-fhir-mcp/audit-cloudwatch')]);
  } catch {
    return E.left([{ variable: 'AUDIT_SINK', problem: 'is cloudwatch, which needs the AWS SDK CloudWatch Logs client beside the server: npm install @aws-sdk/client-cloudwatch-logs' }]);
  }
  const [{ CloudWatchLogsClient }, { makeCloudWatchAuditSink, CloudWatchAuditError }] = modules;
  try {
    const logStream = audit.logStream ?? `hipaa-fhir-mcp/${hostname()}/${new Date().toISOString().replace(/:/g, '-')}/${process.pid}`;
    return E.right(await makeCloudWatchAuditSink({ logs: new CloudWatchLogsClient(CLOUDWATCH_CLIENT_OPTIONS), logGroup: audit.logGroup, logStream }));
  } catch (error) {
    if (error instanceof CloudWatchAuditError) return E.left([{ variable: 'AUDIT_LOG_GROUP', problem: error.message }]);
    return E.left([{ variable: 'AUDIT_SINK', problem: `CloudWatch Logs is not reachable or not configured (${(error as Error)?.name ?? 'error'}); set AWS_REGION and credentials.` }]);
  }
};

// A plaintext data key serves one patient's entries for at most 5 minutes and 1,000 entries, in
// memory only (the AWS Encryption SDK's caching, with its recommended kind of bounds).
const DATA_KEY_REUSE = { maxAgeMs: 300_000, maxUses: 1_000, maxKeys: 1_000 } as const;

/**
 * What cached results depend on besides their query: where they were read and as whom (ids are
 * unique only within one FHIR server), and this version (the shape of what is cached).
 */
const cachePartition = (fhir: FhirConfig, readsAs: CallerIdentity | undefined): string => {
  const source =
    fhir.kind === 'files'
      ? { files: fhir.dir }
      : fhir.kind === 'healthlake'
        ? { healthlake: fhir.endpoint }
        : { http: fhir.baseUrl, auth: fhir.auth.kind === 'smart-backend' ? { client: fhir.auth.clientId, scopes: fhir.auth.scopes ?? null } : fhir.auth };
  // Fed only to the query HMAC, never written: the bearer token, if any, never reaches a file.
  return JSON.stringify({ version: VERSION, source, readsAs: readsAs ?? null });
};

/**
 * The encrypted PHI cache CACHE_DIR names: local data keys wrapped under CACHE_MASTER_KEY[_FILE], or
 * KMS data keys (the KMS client and adapter loaded only then).
 */
const buildPhiCache = async (
  cache: CacheConfig,
  fhir: FhirConfig,
  /** With a SMART user's login, who FHIR is read as: each user's results are their own. */
  readsAs: CallerIdentity | undefined,
  log: OperationalLog,
): Promise<E.Either<StartFailure, { readonly cache: PhiCache; readonly close: () => void }>> => {
  const phiCache = await import('@hipaa-fhir-mcp/phi-cache');
  let source: import('@hipaa-fhir-mcp/phi-cache').DataKeySource;
  if (cache.dataKeys.kind === 'local') {
    const masterKey = await loadCacheMasterKey(cache.dataKeys.masterKey);
    if (E.isLeft(masterKey)) return E.left([masterKey.left]);
    source = phiCache.localDataKeySource(masterKey.right);
    masterKey.right.fill(0);
  } else {
    const kms = await import('@aws-sdk/client-kms').catch(() => undefined);
    if (kms === undefined) return E.left([{ variable: 'KEY_PROVIDER', problem: KMS_SDK_MISSING }]);
    source = await phiCache.kmsDataKeySource({ kms: new kms.KMSClient(CACHE_KMS_CLIENT_OPTIONS), kmsKeyId: cache.dataKeys.kmsKeyId });
  }
  const dataKeys = phiCache.reusingDataKeys(source, DATA_KEY_REUSE);
  let store;
  try {
    store = await phiCache.makeFileCacheStore({ dir: cache.dir, ttlMs: cache.ttlMs, maxBytes: cache.maxBytes });
  } catch (error) {
    // The store's own messages name only properties of the directory, never a value.
    return E.left([{ variable: 'CACHE_DIR', problem: error instanceof Error && /directory/.test(error.message) ? error.message : 'cannot be created or read.' }]);
  }
  return E.right({
    cache: phiCache.makeEncryptedPhiCache({ partition: cachePartition(fhir, readsAs), store, dataKeys, ttlMs: cache.ttlMs, warn: (warning) => log({ event: 'cache_warning', warning }) }),
    close: () => {
      store.close();
      dataKeys.forget();
    },
  });
};

/**
 * This server's SPIFFE identity, kept fresh (identity-spiffe loaded only when selected). A start with
 * no valid SVID is refused; later problems and rotations go to the operational log.
 */
const buildWorkloadIdentity = async (config: WorkloadIdentityConfig, log: OperationalLog): Promise<E.Either<StartFailure, WorkloadIdentitySource>> => {
  const spiffe = await import('@hipaa-fhir-mcp/identity-spiffe');
  const common = {
    ...(config.trustDomain === undefined ? {} : { trustDomain: config.trustDomain }),
    onProblem: (problem: SvidProblem | 'workload-api-unavailable') => log({ event: 'workload_identity_problem', problem }),
    onRotate: (spiffeId: string) => log({ event: 'workload_identity_rotated', spiffe_id: spiffeId }),
  };
  try {
    return E.right(
      config.kind === 'spiffe-files'
        ? await spiffe.watchSvidFiles({ certFile: config.certFile, bundleFile: config.bundleFile, ...common })
        : await spiffe.workloadApiSource({ socket: config.socket, ...common }),
    );
  } catch (error) {
    // The sources' messages are fixed texts naming a problem code, never certificate contents.
    const variable = config.kind === 'spiffe-files' ? 'SPIFFE_SVID_FILE' : 'SPIFFE_ENDPOINT_SOCKET';
    return E.left([{ variable, problem: `gave no valid X.509-SVID (${error instanceof Error ? error.message : 'error'}).` }]);
  }
};

/** Builds everything from the environment for one transport; nothing is served yet. */
export const buildServer = async (env: NodeJS.ProcessEnv, log: OperationalLog, transport: 'stdio' | 'http' = 'stdio'): Promise<E.Either<StartFailure, RunningServer>> => {
  const config = decodeConfig(env);
  const httpConfig: E.Either<ConfigProblem[], HttpConfig | undefined> = transport === 'http' ? decodeHttpConfig(env) : E.right(undefined);
  if (E.isLeft(config) || E.isLeft(httpConfig)) return E.left([...(E.isLeft(config) ? config.left : []), ...(E.isLeft(httpConfig) ? httpConfig.left : [])]);
  const http = httpConfig.right;
  // Over HTTP with OAuth the caller is the token's user; elsewhere, CALLER_IDENTITY.
  const mcpHttp = http === undefined ? undefined : await import('@hipaa-fhir-mcp/mcp-http');
  const { fhir: fhirConfig, workload: workloadConfig, cache: cacheConfig, audit: auditConfig, keySource, callerIdentity, maxObservations, patientOutput, logLevel } = config.right;
  log.setLevel(logLevel);

  const key = await loadHmacKey(keySource);
  if (E.isLeft(key)) return E.left([key.left]);

  const built = await buildFhirRepository(fhirConfig, key.right, log);
  if (E.isLeft(built)) return built;
  // Over stdio with a SMART user's login, that user is the caller (their fhirUser), not CALLER_IDENTITY.
  const { repository: fhir, readsAs } = built.right;
  const caller = readsAs ?? callerIdentity;

  const workload = workloadConfig === undefined ? undefined : await buildWorkloadIdentity(workloadConfig, log);
  if (workload !== undefined && E.isLeft(workload)) return workload;

  const cache = cacheConfig === undefined ? undefined : await buildPhiCache(cacheConfig, fhirConfig, readsAs, log);
  if (cache !== undefined && E.isLeft(cache)) {
    await workload?.right.close();
    return cache;
  }

  const signer = checkpointSignerFor(key.right);
  const audit = await buildAuditSink(auditConfig, signer);
  if (E.isLeft(audit)) {
    cache?.right.close();
    await workload?.right.close();
    return audit;
  }

  const spiffe = workload === undefined ? undefined : await import('@hipaa-fhir-mcp/identity-spiffe');
  const identityFor = (caller: IdentityProvider): IdentityProvider =>
    workload === undefined || spiffe === undefined ? caller : spiffe.withWorkloadIdentity(caller, workload.right);
  const deps: Deps = {
    fhir,
    audit: audit.right,
    identity: identityFor(mcpHttp !== undefined && http?.auth !== 'none' ? mcpHttp.grantIdentity : { identify: () => TE.right({ caller, workload: null }) }),
    keys: staticKeyProvider(key.right),
    clock: { now: () => new Date() },
    limits: { maxObservations, patientOutput },
    ...(cache === undefined ? {} : { cache: cache.right.cache }),
    reportDefect: (defect, where) =>
      log({ event: 'defect', tool: where.tool, request_id: where.requestId, error_class: errorClassOf(defect), stack_frames: stackFramesOf(defect) }),
  };
  const onToolCall = (call: ToolCallEvent): void =>
    log({
      event: 'tool_call',
      tool: call.tool,
      request_id: call.requestId,
      status: call.status,
      error_code: call.errorCode,
      duration_ms: Math.round(call.durationMs * 10) / 10,
    });
  let stdio: FhirMcpServer | undefined;
  const stdioServer = (): FhirMcpServer => (stdio ??= createMcpServer({ name: SERVER_NAME, version: VERSION, deps, onToolCall }));
  const serveHttp =
    http === undefined || mcpHttp === undefined
      ? undefined
      : () =>
          mcpHttp.startMcpHttpServer({
            name: SERVER_NAME,
            version: VERSION,
            deps,
            host: http.host,
            port: http.port,
            allowedHosts: http.allowedHosts,
            allowedOrigins: http.allowedOrigins,
            auth: http.auth,
            onToolCall,
            onRefused: ({ status, reason }) => log({ event: 'http_refused', status, reason }),
          });
  return E.right({
    stdioServer,
    keyId: key.right.id,
    checkpointPublicKey: signer.publicKey,
    fhirBackend: fhirConfig.kind,
    auditSink: auditConfig.kind,
    cache: cacheConfig?.dataKeys.kind ?? 'off',
    serveHttp,
    close: async () => {
      cache?.right.close();
      await workload?.right.close();
      await audit.right.close();
    },
  });
};

/** The built `hipaa-fhir-mcp` bin — the single-file production build — for spawning it. */
export const BIN_PATH: string = fileURLToPath(new URL('../dist/hipaa-fhir-mcp.mjs', import.meta.url));

/** The unbundled build of the same bin (dist/bin.js), for comparison. */
export const UNBUNDLED_BIN_PATH: string = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
