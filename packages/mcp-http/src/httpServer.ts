// The three tools over MCP Streamable HTTP, stateless (any instance answers any request), as an OAuth
// 2.1 resource server. Everything a request could do wrong is refused here with a fixed, PHI-free body.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as E from 'fp-ts/lib/Either.js';
import { isJSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  type CallAccess,
  checkToolAccess,
  type Deps,
  grantFromClaims,
  newCallContext,
  scopesForTool,
  TOOL_NAMES,
  ToolName,
} from '@hipaa-fhir-mcp/core';
import { createMcpServer, runToolCall, type ToolCallEvent } from '@hipaa-fhir-mcp/mcp-stdio';
import { makeTokenVerifier, type OAuthResourceConfig } from './tokenVerifier.js';

/** Why a request was refused before reaching a tool: a fixed code for the operational log. */
export type Refusal =
  | 'forbidden_host'
  | 'forbidden_origin'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'body_too_large'
  | 'parse_error'
  | 'batch_not_supported'
  | 'missing_token'
  | 'invalid_token'
  | 'auth_unavailable'
  | 'insufficient_scope'
  | 'patient_not_in_context'
  | 'timeout';

export interface McpHttpConfig {
  readonly name: string;
  readonly version: string;
  /** The wiring's Deps; with OAuth, its identity should be `grantIdentity` (the token's user). */
  readonly deps: Deps;
  /** The interface to bind. Default 127.0.0.1: nothing beyond this machine unless told. */
  readonly host?: string;
  /** Default 0: any free port (see `url`). */
  readonly port?: number;
  /** The MCP endpoint's path. Default: the path of `auth.resource`, else `/mcp`. */
  readonly path?: string;
  /**
   * `Host` header values accepted (DNS-rebinding protection), e.g. `mcp.example.org` behind a load
   * balancer. Always accepted: the host of `auth.resource`, and the loopback names when bound to loopback.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * Browser origins accepted; a request with any other `Origin` is refused. On loopback, this server's
   * own loopback origins are always accepted.
   */
  readonly allowedOrigins?: readonly string[];
  /** Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * How long one request may take, from its first byte to its answer (then 504). Default 30 s. A tool
   * call still running then goes on to its end and its audit record; `close` waits for it.
   */
  readonly requestTimeoutMs?: number;
  /**
   * OAuth 2.1 resource server settings, or `none`: then only loopback is allowed, and the caller is
   * whoever can reach the port (as with stdio).
   */
  readonly auth: OAuthResourceConfig | 'none';
  readonly onToolCall?: (event: ToolCallEvent) => void;
  readonly onRefused?: (event: { readonly status: number; readonly reason: Refusal }) => void;
}

export interface McpHttpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:43117/mcp. */
  readonly url: string;
  /**
   * Stops accepting, waits for requests in flight (at most `graceMs`, default 10 s), closes the
   * connections, then waits for every tool call still running to write its audit record.
   */
  readonly close: (graceMs?: number) => Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;

/** The key under which the request's access travels from here to the tool handler. */
const ACCESS = 'hipaa-fhir-mcp/access';

/** Runs `then` once `res` has closed: now, if it already has. */
const whenClosed = (res: ServerResponse, then: () => void): void => {
  if (res.closed || res.destroyed) then();
  else res.once('close', then);
};

const send = (res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void => {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { ...JSON_HEADERS, ...headers }).end(JSON.stringify(body));
};

const readBody = (req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too_large'> =>
  new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBytes) return resolve('too_large');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too_large');
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

/**
 * A JSON-RPC `tools/call` request for one of our tools, as the SDK will see it: its name and raw
 * arguments. Anything the SDK would not run as a request (a notification, an invalid message) is not.
 */
const toolCallOf = (message: unknown): { readonly tool: ToolName; readonly args: unknown } | undefined => {
  if (!isJSONRPCRequest(message) || message.method !== 'tools/call') return undefined;
  const params = message.params as { name?: unknown; arguments?: unknown } | undefined;
  if (!ToolName.is(params?.name)) return undefined;
  return { tool: params.name, args: params.arguments ?? {} };
};

export const startMcpHttpServer = async (config: McpHttpConfig): Promise<McpHttpServer> => {
  const host = config.host ?? '127.0.0.1';
  const path = config.path ?? (config.auth === 'none' ? '/mcp' : new URL(config.auth.resource).pathname);
  const maxBodyBytes = config.maxBodyBytes ?? 1024 * 1024;
  const requestTimeoutMs = config.requestTimeoutMs ?? 30_000;
  const loopback = LOOPBACK.has(host.replace(/^\[|\]$/g, ''));
  if (config.auth === 'none' && !loopback) throw new Error('MCP over HTTP without OAuth may bind only a loopback address.');
  const verifier = config.auth === 'none' ? undefined : makeTokenVerifier(config.auth);
  const resourceMetadataUrl =
    config.auth === 'none' ? undefined : `${new URL(config.auth.resource).origin}/.well-known/oauth-protected-resource${new URL(config.auth.resource).pathname.replace(/\/$/, '')}`;
  let allowedOrigins = new Set(config.allowedOrigins ?? []);
  let allowedHosts = new Set<string>([...(config.allowedHosts ?? []), ...(config.auth === 'none' ? [] : [new URL(config.auth.resource).host])]);

  const refuse = (res: ServerResponse, status: number, reason: Refusal, headers: Record<string, string> = {}, requestId?: string): void => {
    config.onRefused?.({ status, reason });
    send(res, status, { error: reason, ...(requestId === undefined ? {} : { request_id: requestId }) }, headers);
  };

  const challenge = (error?: 'invalid_token' | 'insufficient_scope', scope?: string): Record<string, string> => {
    const parts = [error === undefined ? undefined : `error="${error}"`, scope === undefined ? undefined : `scope="${scope}"`, `resource_metadata="${resourceMetadataUrl}"`];
    return { 'www-authenticate': `Bearer ${parts.filter((p) => p !== undefined).join(', ')}` };
  };

  /** Writes the refused call's one audit record (the core refuses it again, with the same rules). */
  const auditRefusal = async (call: { tool: ToolName; args: unknown }, access: CallAccess): Promise<string> => {
    const context = { ...newCallContext(), access };
    await runToolCall(config.deps, call.tool, call.args, context, config.onToolCall);
    return context.requestId;
  };

  /** The access a verified token grants, or why it grants none. */
  const grantOf = async (claims: Record<string, unknown>) => {
    const key = await config.deps.keys.hmacKey()();
    if (E.isLeft(key)) return 'unavailable' as const;
    return grantFromClaims(claims, key.right) ?? ('invalid' as const);
  };

  const handleMcp = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return refuse(res, 405, 'method_not_allowed', { allow: 'POST' });
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return refuse(res, 415, 'unsupported_media_type');
    const body = await readBody(req, maxBodyBytes);
    if (body === 'too_large') return refuse(res, 413, 'body_too_large', { connection: 'close' });
    let message: unknown;
    try {
      message = JSON.parse(body.toString('utf8'));
    } catch {
      return refuse(res, 400, 'parse_error');
    }
    // One message per request (MCP 2025-06-18 has no batches): each tools/call gets its own answer and status.
    if (Array.isArray(message)) return refuse(res, 400, 'batch_not_supported');
    const call = toolCallOf(message);

    let authInfo: AuthInfo | undefined;
    if (verifier !== undefined) {
      const bearer = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.headers.authorization ?? '')?.[1];
      const checked = bearer === undefined ? undefined : await verifier.verify(bearer);
      const grant = checked?.ok === true ? await grantOf(checked.claims) : undefined;
      if (bearer === undefined || checked === undefined || (checked.ok === false && checked.reason === 'invalid') || grant === 'invalid') {
        const requestId = call === undefined ? undefined : await auditRefusal(call, { _tag: 'InvalidToken' });
        return bearer === undefined
          ? refuse(res, 401, 'missing_token', challenge(), requestId)
          : refuse(res, 401, 'invalid_token', challenge('invalid_token'), requestId);
      }
      if (checked.ok === false || grant === 'unavailable' || grant === undefined) {
        const requestId = call === undefined ? undefined : await auditRefusal(call, { _tag: 'Unverifiable' });
        return refuse(res, 503, 'auth_unavailable', { 'retry-after': '5' }, requestId);
      }
      const access: CallAccess = { _tag: 'Granted', grant };
      // The core's own rule, to answer 403 here; the core applies it again when it writes the record.
      const refused = call === undefined ? E.right(undefined) : checkToolAccess(call.tool, call.args, grant);
      if (call !== undefined && E.isLeft(refused)) {
        const requestId = await auditRefusal(call, access);
        return refused.left === 'insufficient_scope'
          ? refuse(res, 403, 'insufficient_scope', challenge('insufficient_scope', scopesForTool(call.tool).join(' ')), requestId)
          : refuse(res, 403, 'patient_not_in_context', {}, requestId);
      }
      const expiresAt = typeof checked.claims.exp === 'number' ? checked.claims.exp : undefined;
      authInfo = {
        token: bearer,
        clientId: typeof checked.claims.client_id === 'string' ? checked.claims.client_id : '',
        scopes: grant.scopes.slice(),
        ...(expiresAt === undefined ? {} : { expiresAt }),
        extra: { [ACCESS]: access },
      };
    }

    // Closed already (the deadline passed, or a shutdown closed the connection, while the token was
    // checked): no tool runs, so there is no call to record and no data read.
    if (res.destroyed || res.writableEnded) return;
    // Stateless: a fresh server and transport per request, so any instance can answer any request.
    const mcp = createMcpServer({
      name: config.name,
      version: config.version,
      deps: config.deps,
      ...(config.onToolCall === undefined ? {} : { onToolCall: config.onToolCall }),
      // With OAuth, a request that somehow reached a tool without its grant is refused, never trusted.
      accessOf: (info) => (info?.extra?.[ACCESS] as CallAccess | undefined) ?? (verifier === undefined ? undefined : { _tag: 'InvalidToken' }),
    });
    const { server } = mcp;
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true }); // no sessionIdGenerator: stateless
    whenClosed(res, () => {
      // The answer is sent (or the client left, or the deadline passed): the call runs on to its record.
      void mcp.drain().finally(() => {
        void transport.close().catch(() => undefined);
        void server.close().catch(() => undefined);
      });
    });
    await server.connect(transport);
    // Resolves once the tool call has ended (its record written), even if the answer had nowhere to go.
    await transport.handleRequest(Object.assign(req, authInfo === undefined ? {} : { auth: authInfo }), res, message);
  };

  const protectedResourceMetadata = (): object | undefined =>
    config.auth === 'none'
      ? undefined
      : {
          resource: config.auth.resource,
          authorization_servers: [config.auth.issuer],
          scopes_supported: [...new Set(TOOL_NAMES.flatMap(scopesForTool))],
          bearer_methods_supported: ['header'],
          resource_name: config.name,
        };

  let inFlight = 0;
  let drained: (() => void) | undefined;
  // Every request's handling, from arrival to its end (a tool call's included), for `close` to await.
  const handling = new Set<Promise<void>>();
  const server = createServer({ requestTimeout: requestTimeoutMs, headersTimeout: Math.min(requestTimeoutMs, 10_000) }, (req, res) => {
    inFlight += 1;
    res.on('close', () => {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    });
    const deadline = setTimeout(() => {
      refuse(res, 504, 'timeout', { connection: 'close' });
      // The tool call runs on to its audit record; its answer, when it comes, has nowhere to go.
      Object.assign(res, { writeHead: () => res, write: () => true, end: () => res });
    }, requestTimeoutMs);
    res.on('close', () => clearTimeout(deadline));
    const handled = (async () => {
      // DNS rebinding: a page on another site must not reach this server through a name it controls.
      if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) return refuse(res, 403, 'forbidden_host');
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigins.has(origin)) return refuse(res, 403, 'forbidden_origin');
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === path) return handleMcp(req, res);
      const metadata = protectedResourceMetadata();
      if (metadata !== undefined && req.method === 'GET' && (url.pathname === '/.well-known/oauth-protected-resource' || url.pathname === `/.well-known/oauth-protected-resource${path}`)) {
        return send(res, 200, metadata);
      }
      return refuse(res, 404, 'not_found');
    })().catch(() => send(res, 500, { error: 'internal_error' }));
    handling.add(handled);
    void handled.finally(() => handling.delete(handled));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  if (loopback) {
    const own = [...LOOPBACK].map((name) => `${name === '::1' ? '[::1]' : name}:${port}`);
    allowedHosts = new Set([...allowedHosts, ...own]);
    allowedOrigins = new Set([...allowedOrigins, ...own.map((hostPort) => `http://${hostPort}`)]);
  }
  allowedHosts = new Set([...allowedHosts].map((h) => h.toLowerCase()));
  const shownHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;

  return {
    url: `http://${shownHost}:${port}${path}`,
    close: async (graceMs = 10_000) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([new Promise<void>((resolve) => (drained = resolve)), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
      }
      server.closeAllConnections();
      await closed;
      // Requests still being handled (a token being checked, a tool call running) end with their records.
      while (handling.size > 0) await Promise.all(handling);
    },
  };
};
