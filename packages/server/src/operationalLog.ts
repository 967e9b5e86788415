// The operational log on stderr (MCP hosts persist it to disk). Events take an allowlist of typed
// fields — no free text from input, upstream responses or error messages — one JSON object a line.
import type { Writable } from 'node:stream';
import type { ErrorCode, RequestId, ToolName } from '@hipaa-fhir-mcp/core';
import type { SvidProblem } from '@hipaa-fhir-mcp/identity-spiffe';
import type { Refusal } from '@hipaa-fhir-mcp/mcp-http';
import type { PhiCacheWarning } from '@hipaa-fhir-mcp/phi-cache';
import type { LogLevel } from './config.js';

export type LogEvent =
  | {
      readonly event: 'server_started';
      readonly version: string;
      readonly fhir_backend: 'files' | 'http' | 'healthlake';
      readonly audit_sink: 'file' | 'cloudwatch';
      readonly cache: 'off' | 'local' | 'kms';
      readonly key_id: string;
      readonly checkpoint_public_key: string;
    }
  | { readonly event: 'server_stopped'; readonly reason: 'stdin_closed' | 'signal' }
  | {
      readonly event: 'tool_call';
      readonly tool: ToolName;
      readonly request_id: RequestId;
      readonly status: 'success' | 'error' | 'denied';
      readonly error_code: ErrorCode | null;
      readonly duration_ms: number;
    }
  | { readonly event: 'defect'; readonly tool: ToolName; readonly request_id: RequestId; readonly error_class: string; readonly stack_frames: readonly string[] }
  | { readonly event: 'transport_error'; readonly error_class: string }
  /** An HTTP request refused before any tool ran (a fixed reason code; see mcp-http's `Refusal`). */
  | { readonly event: 'http_refused'; readonly status: number; readonly reason: Refusal }
  | { readonly event: 'http_listening'; readonly url: string; readonly auth: 'oauth' | 'none' }
  /** The SVID was refused or expired (a fixed problem code from identity-spiffe). */
  | { readonly event: 'workload_identity_problem'; readonly problem: SvidProblem | 'workload-api-unavailable' }
  | { readonly event: 'workload_identity_rotated'; readonly spiffe_id: string }
  /** A rotated refresh token could not be written to SMART_LOGIN_FILE: the next start will need a new login. */
  | { readonly event: 'smart_login_not_saved' }
  /** The PHI cache served a miss or skipped a write: a fixed code, never a value. */
  | { readonly event: 'cache_warning'; readonly warning: PhiCacheWarning }
  | { readonly event: 'process_warning'; readonly warning_class: string }
  | { readonly event: 'process_error'; readonly kind: 'uncaughtException' | 'unhandledRejection'; readonly error_class: string; readonly stack_frames: readonly string[] };

export interface OperationalLog {
  (event: LogEvent): void;
  /** LOG_LEVEL: events below it are not written. No level, debug included, logs payloads. */
  setLevel: (level: LogLevel) => void;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

const levelOf = (event: LogEvent): Exclude<LogLevel, 'silent'> =>
  event.event.endsWith('error') || event.event === 'defect' ? 'error' : ['process_warning', 'cache_warning', 'http_refused', 'workload_identity_problem', 'smart_login_not_saved'].includes(event.event) ? 'warn' : 'info';

export const makeOperationalLog = (stderr: Pick<Writable, 'write'> = process.stderr, now: () => Date = () => new Date()): OperationalLog => {
  let threshold = RANK.info;
  const log = (event: LogEvent): void => {
    const level = levelOf(event);
    if (RANK[level] < threshold) return;
    stderr.write(`${JSON.stringify({ time: now().toISOString(), level, ...event })}\n`);
  };
  return Object.assign(log, { setLevel: (level: LogLevel) => void (threshold = RANK[level]) });
};

/** The class of a thrown value, never its message. */
export const errorClassOf = (thrown: unknown): string =>
  thrown instanceof Error ? thrown.constructor.name : thrown === null ? 'null' : typeof thrown;

// A V8 frame: `at [async ][new ]name[ [as alias]] (location)` or `at [async ]location`, where the name
// has no spaces and the location is a file, node: or drive path with line and column.
const LOCATION = String.raw`(?:file:\/\/|node:|\/|[A-Za-z]:\\)[^()\s]*:\d+:\d+`;
const FRAME = new RegExp(String.raw`^at (?:async )?(?:(?:new )?[\w$.<>\[\]]+(?: \[as [\w$.<>]+\])? \(${LOCATION}\)|${LOCATION})$`);

/**
 * The stack frames of a thrown error, at most 15. The stack's first lines repeat the message (which
 * may quote input, over several lines): they are skipped by count, and what follows must look like
 * a V8 frame, or it is dropped.
 */
export const stackFramesOf = (thrown: unknown): string[] => {
  if (!(thrown instanceof Error) || typeof thrown.stack !== 'string') return [];
  const headerLines = 1 + (String(thrown.message).match(/\n/g)?.length ?? 0);
  return thrown.stack
    .split('\n')
    .slice(headerLines)
    .map((line) => line.trim())
    .filter((line) => FRAME.test(line))
    .slice(0, 15);
};
