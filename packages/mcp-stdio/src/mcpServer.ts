// The MCP server of the three tools, on the SDK's low-level Server: every tools/call for a known
// tool reaches the audit combinator, whatever its arguments; an unknown tool is a protocol error.
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { Protocol } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import * as E from 'fp-ts/lib/Either.js';
import { z } from 'zod';
import {
  type AuditedTool,
  type AuditStatus,
  auditStatusOf,
  type CallAccess,
  type CallContext,
  type Deps,
  type DomainError,
  errorCodeOf,
  internalError,
  newCallContext,
  type RequestId,
  TOOLS,
  ToolName,
} from '@hipaa-fhir-mcp/core';
import { TOOL_DEFINITIONS } from './toolDefinitions.js';
import { toToolResult } from './toolResult.js';

/** What the transport reports about each call, for the operational log: no arguments, no data. */
export interface ToolCallEvent {
  readonly tool: ToolName;
  readonly requestId: RequestId;
  readonly status: AuditStatus;
  readonly errorCode: ReturnType<typeof errorCodeOf> | null;
  readonly durationMs: number;
}

/**
 * Runs one tool call through its audit combinator and reports it: the one way a transport runs a
 * tool. It never rejects: a broken promise becomes InternalError (its record already written or not
 * writable, and then no data).
 */
export const runToolCall = async (
  deps: Deps,
  tool: ToolName,
  args: unknown,
  call: CallContext,
  onToolCall?: (event: ToolCallEvent) => void,
): Promise<E.Either<DomainError, object>> => {
  const started = performance.now();
  const audited = TOOLS[tool] as (typeof TOOLS)[ToolName] as AuditedTool<object>;
  const outcome = await audited(args, call)(deps)().catch((): E.Either<DomainError, object> => E.left(internalError));
  onToolCall?.({
    tool,
    requestId: call.requestId,
    status: auditStatusOf(outcome),
    errorCode: E.isRight(outcome) ? null : errorCodeOf(outcome.left),
    durationMs: performance.now() - started,
  });
  return outcome;
};

export interface McpServerConfig {
  readonly name: string;
  readonly version: string;
  readonly deps: Deps;
  readonly onToolCall?: (event: ToolCallEvent) => void;
  /** A transport that authorizes requests (HTTP with OAuth) says here what the request's token allows. */
  readonly accessOf?: (authInfo: AuthInfo | undefined) => CallAccess | undefined;
}

export interface FhirMcpServer {
  readonly server: Server;
  /** Resolves once every tools/call received so far has finished and its response was handed to the transport. */
  readonly drain: () => Promise<void>;
}

// The SDK's own tools/call schema rejects a non-object `arguments` before any handler runs, which
// would leave that call unaudited. This one takes any `arguments`; the core decodes them.
const AnyToolCallRequest = z.object({
  method: z.literal('tools/call'),
  params: z.looseObject({ name: z.string(), arguments: z.unknown().optional(), task: z.unknown().optional() }),
});

/**
 * The SDK refuses a task-augmented call before any handler runs (we declare no tasks capability),
 * which would leave it unaudited. This lets it reach the handler, which audits it and then refuses it.
 */
class AuditedToolServer extends Server {
  protected override assertTaskHandlerCapability(method: string): void {
    if (method !== 'tools/call') super.assertTaskHandlerCapability(method);
  }
}

export const createMcpServer = (config: McpServerConfig): FhirMcpServer => {
  const server = new AuditedToolServer(
    { name: config.name, version: config.version },
    {
      capabilities: { tools: {} },
      instructions:
        'Read-only access to FHIR R4 patient data. Patients are named by their FHIR id. Every tool call is ' +
        'written to an audit log, in which the patient id appears only as a keyed hash.',
    },
  );

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [...TOOL_DEFINITIONS] }));

  const inFlight = new Set<Promise<unknown>>();
  const handleToolCall = async (request: z.infer<typeof AnyToolCallRequest>, authInfo: AuthInfo | undefined) => {
    const tool = request.params.name;
    if (!ToolName.is(tool)) throw new McpError(ErrorCode.InvalidParams, 'Unknown tool');
    const access = config.accessOf?.(authInfo);
    const call = access === undefined ? newCallContext() : { ...newCallContext(), access };
    const taskRequested = request.params.task !== undefined;
    // A task-augmented call is audited as invalid input (its `task` member is not a tool argument).
    const args = taskRequested ? { ...(request.params.arguments as object | undefined), task: request.params.task } : (request.params.arguments ?? {});
    const outcome = await runToolCall(config.deps, tool, args, call, config.onToolCall);
    if (taskRequested) throw new McpError(ErrorCode.InvalidParams, `These tools do not run as tasks (request_id: ${call.requestId})`);
    return toToolResult(call.requestId, outcome);
  };

  // Registered through Protocol's method so that Server's tools/call wrapper (see above) is bypassed.
  Protocol.prototype.setRequestHandler.call(server, AnyToolCallRequest, (request: z.infer<typeof AnyToolCallRequest>, extra: { authInfo?: AuthInfo }) => {
    const handled = handleToolCall(request, extra.authInfo);
    const tracked = handled.catch(() => undefined).finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    return handled;
  });

  return {
    server,
    drain: async () => {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      // The SDK hands a result to the transport a few microtasks after the handler settles.
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
};
