// AuditSink on AWS CloudWatch Logs: one log stream per server instance, each record a hash-chained
// line (the chain runs per stream). Records wait a short linger so that concurrent calls share a
// PutLogEvents batch; a call is acknowledged only once its batch was accepted whole.
//
// PutLogEvents is not idempotent, so a batch is sent again only when AWS refused it whole
// (throttling). After a failure that leaves unknown whether the batch was stored (a 5xx, a timeout,
// a reset), the sink continues on a new stream `<stream>/<n>` with a new chain, so that no stream
// ever holds a record twice or a fork of its chain.
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
  /** Times a throttled batch is sent again, after 100, 200, 400… ms (scaled by `retryDelayMs`). Default 3. */
  readonly throttleRetries?: number;
  readonly retryDelayMs?: number;
  readonly now?: () => Date;
}

export interface CloudWatchAuditSink extends AuditSink {
  /** Sends what is pending; later appends fail as Closed. */
  readonly close: () => Promise<void>;
  readonly head: () => ChainHead;
  /** The stream records go to now: `logStream`, or `logStream/<n>` after an uncertain failure. */
  readonly logStream: () => string;
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
/** AWS answered and refused the request whole (a 4xx): nothing of it was stored. */
const refusedWhole = (error: unknown): boolean => (error as { $fault?: unknown })?.$fault === 'client';

export const makeCloudWatchAuditSink = async (config: CloudWatchAuditSinkConfig): Promise<CloudWatchAuditSink> => {
  const { CreateLogStreamCommand, PutLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  if ((await config.logs.config.maxAttempts()) !== 1) {
    throw new CloudWatchAuditError('The CloudWatch Logs client must be made with maxAttempts: 1: the SDK would send a failed PutLogEvents again, which can store a batch twice; the sink retries only what AWS refused whole.');
  }
  const now = config.now ?? (() => new Date());
  const throttleRetries = config.throttleRetries ?? 3;
  const retryDelayMs = config.retryDelayMs ?? 100;
  const createStream = (name: string) => config.logs.send(new CreateLogStreamCommand({ logGroupName: config.logGroup, logStreamName: name }));
  try {
    await createStream(config.logStream);
  } catch (error) {
    const name = awsErrorName(error);
    throw new CloudWatchAuditError(
      name === 'ResourceAlreadyExistsException'
        ? 'The audit log stream already exists; each server instance needs a stream of its own (leave AUDIT_LOG_STREAM unset to get one).'
        : `CloudWatch Logs refused to create the audit log stream (${name}); check AUDIT_LOG_GROUP and the logs:CreateLogStream permission.`,
    );
  }

  let stream = config.logStream;
  let streamsOpened = 1;
  let streamUncertain = false; // the last batch may or may not have been stored
  let head = CHAIN_START;
  let lastTimestamp = 0;
  let pending: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> | undefined;
  let state: 'open' | 'closing' | 'closed' = 'open';
  let closing: Promise<void> | undefined;
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

  const putBatch = async (lines: readonly string[], timestamp: number) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await config.logs.send(new PutLogEventsCommand({ logGroupName: config.logGroup, logStreamName: stream, logEvents: lines.map((message) => ({ timestamp, message })) }));
      } catch (error) {
        if (awsErrorName(error) !== 'ThrottlingException' || attempt >= throttleRetries) throw error;
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs * 2 ** attempt));
      }
    }
  };

  /** Moves to a fresh stream and chain; false if CloudWatch would not create it. */
  const openNextStream = async (): Promise<boolean> => {
    const name = `${config.logStream}/${streamsOpened + 1}`;
    try {
      await createStream(name);
    } catch (error) {
      if (awsErrorName(error) !== 'ResourceAlreadyExistsException') return false;
    }
    streamsOpened += 1;
    stream = name;
    head = CHAIN_START;
    lastTimestamp = 0;
    streamUncertain = false;
    return true;
  };

  // One batch in flight at a time, so that the stream holds the chain in order. The batch gets one
  // timestamp, later than the last batch's, so its events are chronological, span no time at all, and
  // an event AWS rejects (too old, too new, expired) means the whole batch was rejected.
  const send = async (): Promise<void> => {
    while (pending.length > 0) {
      if (streamUncertain && !(await openNextStream())) {
        for (const p of takeBatch().batch) p.settle(E.left(auditError('WriteFailed', true)));
        continue;
      }
      const { batch, lines, next } = takeBatch();
      const timestamp = Math.max(now().getTime(), lastTimestamp + 1);
      let result: E.Either<AuditError, void>;
      try {
        const response = await putBatch(lines, timestamp);
        const rejected = response.rejectedLogEventsInfo;
        // A rejected batch fails its calls: an unacknowledged record must not return data.
        if (rejected !== undefined && Object.values(rejected).some((v) => v !== undefined)) result = E.left(auditError('Rejected', true));
        else {
          head = next;
          lastTimestamp = timestamp;
          result = E.right(undefined);
        }
      } catch (error) {
        if (!refusedWhole(error)) streamUncertain = true;
        result = E.left(auditError('WriteFailed', true));
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
    logStream: () => stream,
    append: (record) => () =>
      new Promise((settle) => {
        if (state !== 'open') return settle(E.left(auditError('Closed')));
        if (pending.length >= maxPending) return settle(E.left(auditError('WriteFailed', true))); // bounded: fail closed
        pending.push({ record, settle });
        if (sending === undefined) schedule();
      }),
    close: () =>
      (closing ??= (async () => {
        state = 'closing';
        if (timer !== undefined) {
          clearTimeout(timer);
          timer = undefined;
        }
        while (sending !== undefined || pending.length > 0) await (sending ?? (sending = send()));
        state = 'closed';
      })()),
  };
};
