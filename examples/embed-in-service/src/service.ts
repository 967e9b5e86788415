// A plain node:http service that uses @hipaa-fhir-mcp/core as a library: no MCP at all. It picks
// its own adapters and names the caller per request (from a header its gateway sets), by narrowing Deps.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as E from 'fp-ts/lib/Either.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { makeFileAuditSink } from '@hipaa-fhir-mcp/audit-file';
import {
  CallerIdentity,
  type Deps,
  type DomainError,
  errorCodeOf,
  matchDomainError,
  newCallContext,
  TOOLS,
  ToolName,
} from '@hipaa-fhir-mcp/core';
import { embeddedDataDir, makeFilesFhirRepository } from '@hipaa-fhir-mcp/fhir-files';

export interface ServiceConfig {
  readonly auditLogFile: string;
  readonly hmacKey: Uint8Array;
  readonly dataDir?: string;
  readonly port?: number;
}

const MAX_BODY_BYTES = 64 * 1024;

const httpStatusOf = matchDomainError<number>({
  InvalidInput: () => 400,
  PatientNotFound: () => 404,
  FhirUnavailable: () => 503,
  FhirTimeout: () => 504,
  FhirInvalidResponse: () => 502,
  FhirAuthFailed: () => 502,
  FhirRejected: () => 502,
  AuditUnavailable: () => 503,
  KeyUnavailable: () => 503,
  IdentityUnavailable: () => 401,
  InternalError: () => 500,
  AccessDenied: ({ reason }) => (reason === 'invalid_token' ? 401 : 403),
});

/** The JSON body, or undefined when it is too large, aborted or not JSON (the core audits that as invalid input). */
const readJson = async (request: IncomingMessage): Promise<unknown> => {
  try {
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return undefined;
      chunks.push(chunk);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
};

const send = (response: ServerResponse, status: number, body: unknown): void => {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
};

/** Starts the service; POST /tools/<tool name> with the tool's JSON arguments as the body. */
export const startService = async (config: ServiceConfig) => {
  const audit = await makeFileAuditSink({ path: config.auditLogFile });
  const deps: Omit<Deps, 'identity'> = {
    fhir: makeFilesFhirRepository({ dir: config.dataDir ?? embeddedDataDir }),
    audit,
    keys: { hmacKey: () => TE.right({ id: 'embed-example', bytes: config.hmacKey }) },
    clock: { now: () => new Date() },
    limits: { maxObservations: 20, patientOutput: 'minimum-necessary' },
    reportDefect: () => undefined,
  };

  const server = createServer((request, response) => {
    void (async () => {
      const tool = /^\/tools\/([a-z_]+)$/.exec(request.url ?? '')?.[1];
      if (request.method !== 'POST' || !ToolName.is(tool)) return send(response, 404, { error: 'not_found' });
      // Per-request identity: the gateway's header, checked by the core's codec; no header → audited as unidentified.
      const caller = CallerIdentity.decode(request.headers['x-caller-identity']);
      const identity = {
        identify: () => (E.isRight(caller) ? TE.right({ caller: caller.right, workload: null }) : TE.left({ _tag: 'IdentityError' as const, reason: 'Unauthenticated' as const })),
      };
      const call = newCallContext();
      const outcome: E.Either<DomainError, object> = await TOOLS[tool](await readJson(request), call)({ ...deps, identity })();
      if (E.isRight(outcome)) return send(response, 200, { request_id: call.requestId, ...outcome.right });
      return send(response, httpStatusOf(outcome.left), { error: errorCodeOf(outcome.left), request_id: call.requestId });
    })().catch(() => {
      // A client that went away mid-response: nothing left to answer, and the call is already audited.
      response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(config.port ?? 0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await audit.close();
    },
  };
};
