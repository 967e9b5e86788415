// The operational log on stderr (MCP hosts persist it to disk). Events take an allowlist of typed
// fields — no free text from input, upstream responses or error messages — one JSON object a line.
import type { Writable } from 'node:stream';
import type { ErrorCode, RequestId, ToolName } from '@hipaa-fhir-mcp/core';

export type LogEvent =
  | { readonly event: 'server_started'; readonly version: string; readonly fhir_backend: 'files' | 'http'; readonly audit_sink: 'file'; readonly key_id: string }
  | { readonly event: 'server_stopped'; readonly reason: 'stdin_closed' | 'signal' }
  | {
      readonly event: 'tool_call';
      readonly tool: ToolName;
      readonly request_id: RequestId;
      readonly status: 'success' | 'error';
      readonly error_code: ErrorCode | null;
      readonly duration_ms: number;
    }
  | { readonly event: 'defect'; readonly tool: ToolName; readonly request_id: RequestId; readonly error_class: string; readonly stack_frames: readonly string[] }
  | { readonly event: 'transport_error'; readonly error_class: string }
  | { readonly event: 'process_error'; readonly kind: 'uncaughtException' | 'unhandledRejection'; readonly error_class: string; readonly stack_frames: readonly string[] };

export type OperationalLog = (event: LogEvent) => void;

export const makeOperationalLog =
  (stderr: Pick<Writable, 'write'> = process.stderr, now: () => Date = () => new Date()): OperationalLog =>
  (event) => {
    stderr.write(`${JSON.stringify({ time: now().toISOString(), level: event.event.endsWith('error') || event.event === 'defect' ? 'error' : 'info', ...event })}\n`);
  };

/** The class of a thrown value, never its message. */
export const errorClassOf = (thrown: unknown): string =>
  thrown instanceof Error ? thrown.constructor.name : thrown === null ? 'null' : typeof thrown;

// `at fn (file:///x.js:1:2)`, `at /x.js:1:2`, `at node:internal/x:1:2`: a code location, nothing else.
const FRAME = /^at (?:[^()]* )?\(?(?:file:\/\/|node:|\/|[A-Za-z]:\\)[^()\s]*:\d+:\d+\)?$/;

/**
 * The stack frames of a thrown error, at most 15: the trailing run of lines that are code
 * locations. The message (which may quote input, over several lines) comes before them and is left out.
 */
export const stackFramesOf = (thrown: unknown): string[] => {
  if (!(thrown instanceof Error) || typeof thrown.stack !== 'string') return [];
  const lines = thrown.stack.split('\n').map((line) => line.trim());
  let first = lines.length;
  while (first > 0 && FRAME.test(lines[first - 1] ?? '')) first--;
  return lines.slice(first, first + 15);
};
