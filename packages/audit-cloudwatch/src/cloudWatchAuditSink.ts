// AuditSink on AWS CloudWatch Logs: one log stream per server instance, each record a hash-chained
// line (the chain runs per stream). Records wait a short linger so that concurrent calls share a
// PutLogEvents batch; a call is acknowledged only once its batch was accepted whole.
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import * as E from 'fp-ts/lib/Either.js';
import { type AuditError, type AuditRecord, type AuditSink, appendToChain, auditError, CHAIN_START, type ChainHead } from '@hipaa-fhir-mcp/core';

export interface CloudWatchAuditSinkConfig {
  readonly logs: CloudWatchLogsClient;
  readonly logGroup: string;
  /** One per server instance; created at start. */
  readonly logStream: string;
  /** How long a record waits for company before its batch goes. Default 20 ms. */
  readonly lingerMs?: number;
  /** Records waiting at most; past it, calls fail closed instead of the buffer growing. Default 10,000. */
  readonly maxPending?: number;
  readonly now?: () => Date;
}

export interface CloudWatchAuditSink extends AuditSink {
  /** Sends what is pending; later appends fail as Closed. */
  readonly close: () => Promise<void>;
  readonly head: () => ChainHead;
}

/** The log stream cannot be used; the message names the AWS error type only. */
export class CloudWatchAuditError extends Error {
  override readonly name = 'CloudWatchAuditError';
}

// PutLogEvents limits (API reference): events per batch, bytes per batch (UTF-8 + 26 per event).
const MAX_EVENTS = 10_000;
const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD = 26;

interface Pending {
  readonly record: AuditRecord;
  readonly settle: (result: E.Either<AuditError, void>) => void;
}

const awsErrorName = (error: unknown): string => (error as { name?: unknown })?.name?.toString() ?? 'error';

export const makeCloudWatchAuditSink = async (config: CloudWatchAuditSinkConfig): Promise<CloudWatchAuditSink> => {
  const { CreateLogStreamCommand, PutLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const now = config.now ?? (() => new Date());
  try {
    await config.logs.send(new CreateLogStreamCommand({ logGroupName: config.logGroup, logStreamName: config.logStream }));
  } catch (error) {
    throw new CloudWatchAuditError(`CloudWatch Logs refused to create the audit log stream (${awsErrorName(error)}); check AUDIT_LOG_GROUP and the logs:CreateLogStream permission.`);
  }

  let head = CHAIN_START;
  let lastTimestamp = 0;
  let pending: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> | undefined;
  let state: 'open' | 'closing' | 'closed' = 'open';
  const maxPending = config.maxPending ?? 10_000;

  /** Takes from `pending` as many records as one PutLogEvents may carry. */
  const takeBatch = (): { batch: Pending[]; lines: string[]; next: ChainHead } => {
    const batch: Pending[] = [];
    const lines: string[] = [];
    let next = head;
    let bytes = 0;
    while (pending.length > 0 && batch.length < MAX_EVENTS) {
      const appended = appendToChain(next, (pending[0] as Pending).record);
      const size = Buffer.byteLength(appended.line) + EVENT_OVERHEAD;
      if (bytes + size > MAX_BATCH_BYTES && batch.length > 0) break;
      batch.push(pending.shift() as Pending);
      lines.push(appended.line);
      next = appended.head;
      bytes += size;
    }
    return { batch, lines, next };
  };

  // One batch in flight at a time, so that the stream holds the chain in order. The batch gets one
  // timestamp (never going backwards), so its events are chronological and span no time at all.
  const send = async (): Promise<void> => {
    while (pending.length > 0) {
      const { batch, lines, next } = takeBatch();
      const timestamp = Math.max(now().getTime(), lastTimestamp);
      let result: E.Either<AuditError, void>;
      try {
        const response = await config.logs.send(
          new PutLogEventsCommand({ logGroupName: config.logGroup, logStreamName: config.logStream, logEvents: lines.map((message) => ({ timestamp, message })) }),
        );
        const rejected = response.rejectedLogEventsInfo;
        // Any rejected event fails the whole batch: an unacknowledged record must not return data.
        if (rejected !== undefined && Object.values(rejected).some((v) => v !== undefined)) result = E.left(auditError('Rejected', true));
        else {
          head = next;
          lastTimestamp = timestamp;
          result = E.right(undefined);
        }
      } catch (error) {
        result = E.left(auditError('WriteFailed', ['ThrottlingException', 'ServiceUnavailableException'].includes(awsErrorName(error))));
      }
      for (const p of batch) p.settle(result);
    }
    sending = undefined;
  };

  const schedule = (): void => {
    if (timer !== undefined || sending !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      sending = send();
    }, config.lingerMs ?? 20);
  };

  return {
    head: () => head,
    append: (record) => () =>
      new Promise((settle) => {
        if (state !== 'open') return settle(E.left(auditError('Closed')));
        if (pending.length >= maxPending) return settle(E.left(auditError('WriteFailed', true))); // bounded: fail closed
        pending.push({ record, settle });
        if (sending === undefined) schedule();
      }),
    close: async () => {
      if (state !== 'open') return;
      state = 'closing';
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
      while (sending !== undefined || pending.length > 0) await (sending ?? (sending = send()));
      state = 'closed';
    },
  };
};
