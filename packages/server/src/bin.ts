#!/usr/bin/env node
// The `hipaa-fhir-mcp` command: serves the three tools over stdio (stdout is the protocol channel,
// stderr the PHI-free operational log). Exits when stdin closes, after the audit log is flushed.
import { processLog as log } from './processGuards.js';
import * as E from 'fp-ts/lib/Either.js';
import { serveStdio } from '@hipaa-fhir-mcp/mcp-stdio';
import { ENV_VARS } from './config.js';
import { buildServer, SERVER_NAME, VERSION } from './wiring.js';

const HELP = `${SERVER_NAME} ${VERSION}
An MCP server (stdio) with three read-only FHIR R4 tools: get_patient, search_observations and
get_medication_list. Every call writes one audit record; patient ids appear there only as a keyed
HMAC-SHA-256.

Usage: ${SERVER_NAME} [--help | --version]                 (MCP over stdio)
       ${SERVER_NAME} serve --http                           (MCP over Streamable HTTP, OAuth 2.1)
       ${SERVER_NAME} audit verify | find | stats LOG ...   (see ${SERVER_NAME} audit --help)
       ${SERVER_NAME} keys create --kms-key-id KEY          (a new audit key, as a KMS ciphertext)
       ${SERVER_NAME} login                                 (sign a user in: FHIR_AUTH=smart-user)
       ${SERVER_NAME} cache purge                           (every entry in CACHE_DIR; stop the server first)

Environment (see README.md):
  AUDIT_LOG_FILE       required: the JSON Lines audit log (created 0600)
  AUDIT_HMAC_KEY       required unless AUDIT_HMAC_KEY_FILE: >= 32 random bytes as hex
                       (openssl rand -hex 32)
  AUDIT_HMAC_KEY_FILE  a 0600 file holding that hex key instead
  KEY_PROVIDER         env (default: the two above) or kms: the key as a KMS ciphertext in
                       AUDIT_HMAC_KEY_CIPHERTEXT or AUDIT_HMAC_KEY_CIPHERTEXT_FILE
  CALLER_IDENTITY      who is calling, for the audit record (default: os-user:<login name>)
  FHIR_DATA_DIR        a directory of FHIR R4 Bundle files (default: the embedded synthetic data)
  FHIR_BASE_URL        a FHIR R4 REST server instead (https; http only on loopback)
  FHIR_BACKEND         files, http or healthlake (AWS HealthLake, SigV4: HEALTHLAKE_DATASTORE_ENDPOINT,
                       or AWS_REGION and HEALTHLAKE_DATASTORE_ID)
  FHIR_AUTH            none (default), bearer, smart-backend or smart-user (read FHIR as the user
                       signed in with hipaa-fhir-mcp login; SMART_CLIENT_ID, SMART_LOGIN_FILE)
  FHIR_AUTH_TOKEN      the bearer token, with FHIR_AUTH=bearer
  SMART_CLIENT_ID, SMART_PRIVATE_KEY_FILE, SMART_KEY_ID, SMART_SCOPES
                       SMART Backend Services client, with FHIR_AUTH=smart-backend
  FHIR_TIMEOUT_MS      per attempt, 100-120000 (default 10000; up to 3 attempts)
  FHIR_MAX_RESULTS     most Observations per search_observations call, 1-1000 (default 100)
  PHI_OUTPUT_POLICY    minimum-necessary (default: no SSN, licence, passport… in get_patient) or full
  LOG_LEVEL            debug, info (default), warn, error or silent; no level logs payloads
  AUDIT_ROTATE         none (default), daily, a size such as 64MiB, or daily,64MiB
  AUDIT_SINK           file (default) or cloudwatch: then AUDIT_LOG_GROUP (and AUDIT_LOG_STREAM,
                       default one per instance) instead of AUDIT_LOG_FILE
  HTTP_HOST, HTTP_PORT with serve --http: where to listen (default 127.0.0.1:8080)
  OAUTH_ISSUER         with serve --http: the authorization server whose JWT access tokens are accepted
  OAUTH_RESOURCE       with serve --http: this server's URL, e.g. https://mcp.example.org/mcp (the
                       tokens' audience); HTTP_ALLOWED_HOSTS, HTTP_ALLOWED_ORIGINS, OAUTH_JWKS_URI,
                       HTTP_AUTH=none (loopback only) — see README.md
  CACHE_DIR            cache FHIR results there, encrypted (default: no cache); data keys wrapped
                       under CACHE_MASTER_KEY (or _FILE: 32 bytes as hex, openssl rand -hex 32) or,
                       with KEY_PROVIDER=kms, from KMS under KMS_KEY_ID
  CACHE_TTL_SECONDS    how long an entry is served, 1-86400 (default 300)
  CACHE_MAX_SIZE       the cache's size bound, e.g. 64MiB (default); the oldest entries go first
`;

const main = async (argv: readonly string[]): Promise<number> => {
  const subcommand = ['audit', 'keys', 'cache', 'serve', 'login'].includes(argv[0] ?? '');
  if (!subcommand && (argv.includes('--help') || argv.includes('-h'))) {
    process.stderr.write(HELP); // stdout is only ever the MCP channel
    return 0;
  }
  if (!subcommand && (argv.includes('--version') || argv.includes('-v'))) {
    process.stderr.write(`${VERSION}\n`);
    return 0;
  }
  if (argv[0] === 'keys') {
    const { runKeysCli } = await import('./keysCli.js');
    return runKeysCli(argv.slice(1), { stdout: process.stdout, stderr: process.stderr });
  }
  if (argv[0] === 'login') {
    const { runLoginCli } = await import('./loginCli.js');
    return runLoginCli(argv.slice(1), { stderr: process.stderr, env: process.env });
  }
  if (argv[0] === 'cache') {
    const { runCacheCli } = await import('./cacheCli.js');
    return runCacheCli(argv.slice(1), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  }
  if (argv[0] === 'audit') {
    const { runAuditCli } = await import('./auditCli.js');
    return runAuditCli(argv.slice(1), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
  }
  const overHttp = argv.length === 2 && argv[0] === 'serve' && argv[1] === '--http';
  const overStdio = argv.length === 0 || (argv.length === 1 && argv[0] === 'serve');
  if (!overHttp && !overStdio) {
    process.stderr.write(`${SERVER_NAME}: unknown arguments; see ${SERVER_NAME} --help\n`);
    return 2;
  }
  if (overHttp) return serveOverHttp();

  // Under back-pressure the stdio transport waits for 'drain' once per pending response.
  process.stdout.setMaxListeners(0);
  const built = await buildServer(process.env, log);
  if (E.isLeft(built)) return cannotStart(built.left);
  const running = built.right;
  log({
    event: 'server_started',
    version: VERSION,
    fhir_backend: running.fhirBackend,
    audit_sink: running.auditSink,
    cache: running.cache,
    key_id: running.keyId,
    checkpoint_public_key: running.checkpointPublicKey,
  });

  // A signal is handled like the end of input: stop reading, answer what was asked, flush, exit.
  let reason: 'stdin_closed' | 'signal' = 'stdin_closed';
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      reason = 'signal';
      process.stdin.destroy();
      setTimeout(() => process.exit(1), 10_000).unref();
    });
  }
  await serveStdio(running.stdioServer(), (errorClass) => log({ event: 'transport_error', error_class: errorClass }));
  // Flushing may wait on a stalled network; then exit non-zero anyway. Records still unsent belong to
  // calls that were never answered, so no data went out unaudited.
  setTimeout(() => process.exit(1), 10_000).unref();
  await running.close();
  log({ event: 'server_stopped', reason });
  return 0;
};

/** `serve --http`: listens until SIGTERM or SIGINT, then drains requests in flight and flushes the audit sink. */
const serveOverHttp = async (): Promise<number> => {
  const built = await buildServer(process.env, log, 'http');
  if (E.isLeft(built)) return cannotStart(built.left);
  const running = built.right;
  const http = await running.serveHttp?.().catch(() => undefined);
  if (http === undefined) {
    await running.close();
    return cannotStart([{ variable: 'HTTP_PORT', problem: 'cannot be listened on (in use, or not allowed).' }]);
  }
  log({ event: 'server_started', version: VERSION, fhir_backend: running.fhirBackend, audit_sink: running.auditSink, cache: running.cache, key_id: running.keyId, checkpoint_public_key: running.checkpointPublicKey });
  log({ event: 'http_listening', url: http.url, auth: process.env.HTTP_AUTH === 'none' ? 'none' : 'oauth' });
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  // Calls still running finish and write their records first; a FHIR read may take 3 attempts.
  setTimeout(() => process.exit(1), 60_000).unref();
  await http.close();
  await running.close();
  log({ event: 'server_stopped', reason: 'signal' });
  return 0;
};

const cannotStart = (problems: readonly { variable: string; problem: string }[]): number => {
  const lines = problems.map(({ variable, problem }) => `  ${variable}: ${problem}`);
  process.stderr.write(`${SERVER_NAME} cannot start:\n${lines.join('\n')}\nVariables: ${ENV_VARS.join(', ')}.\n`);
  return 2;
};

process.exitCode = await main(process.argv.slice(2));
