// A local CloudWatch Logs for tests (JSON protocol: CreateLogStream, PutLogEvents), enforcing these
// of PutLogEvents' documented limits: at most 10,000 events and 1,048,576 bytes (UTF-8 message bytes
// + 26 per event) per batch, chronological order, a span of at most 24 hours. Not modelled: the
// per-event size limit, the time window for timestamps, and rejecting part of a batch.
import { AwsError, startSigV4Endpoint, type SigV4Endpoint, type TestCredentials } from './sigv4Endpoint.js';

export interface StoredEvent {
  readonly timestamp: number;
  readonly message: string;
}

export interface LocalCloudWatchLogs extends SigV4Endpoint {
  /** Events accepted, per `group/stream`. */
  readonly streams: Map<string, StoredEvent[]>;
  /** While set, PutLogEvents accepts nothing and reports every event as too old. */
  rejectEvents: boolean;
  /** The next this many PutLogEvents store their batch, then answer 500: the client cannot tell. */
  storeThenFail: number;
}

export const startLocalCloudWatchLogs = async (credentials: TestCredentials, region = 'us-east-1'): Promise<LocalCloudWatchLogs> => {
  const streams = new Map<string, StoredEvent[]>();
  const state = { rejectEvents: false, storeThenFail: 0 };
  const endpoint = await startSigV4Endpoint({
    service: 'logs',
    region,
    credentials,
    handlers: {
      CreateLogStream: (body) => {
        const key = `${String(body.logGroupName)}/${String(body.logStreamName)}`;
        if (streams.has(key)) throw new AwsError('ResourceAlreadyExistsException', 'The specified log stream already exists');
        streams.set(key, []);
        return {};
      },
      PutLogEvents: (body) => {
        const stream = streams.get(`${String(body.logGroupName)}/${String(body.logStreamName)}`);
        if (stream === undefined) throw new AwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
        const events = (body.logEvents ?? []) as StoredEvent[];
        const bytes = events.reduce((n, e) => n + Buffer.byteLength(e.message) + 26, 0);
        if (events.length === 0 || events.length > 10_000) throw new AwsError('InvalidParameterException', 'batch must hold 1 to 10,000 events');
        if (bytes > 1_048_576) throw new AwsError('InvalidParameterException', 'batch exceeds 1,048,576 bytes');
        if (events.some((e, i) => i > 0 && e.timestamp < (events[i - 1] as StoredEvent).timestamp)) {
          throw new AwsError('InvalidParameterException', 'log events in a single PutLogEvents request must be in chronological order');
        }
        if ((events.at(-1) as StoredEvent).timestamp - (events[0] as StoredEvent).timestamp > 24 * 3_600_000) {
          throw new AwsError('InvalidParameterException', 'a batch of log events cannot span more than 24 hours');
        }
        if (state.rejectEvents) return { rejectedLogEventsInfo: { tooOldLogEventEndIndex: events.length } };
        stream.push(...events.map((e) => ({ timestamp: e.timestamp, message: e.message })));
        if (state.storeThenFail > 0) {
          state.storeThenFail -= 1;
          throw new AwsError('ServiceUnavailableException', 'The service cannot complete the request.', 500);
        }
        return { nextSequenceToken: 'ignored' };
      },
    },
  });
  for (const name of ['rejectEvents', 'storeThenFail'] as const) {
    Object.defineProperty(endpoint, name, {
      get: () => state[name],
      set: (value: never) => void (state[name] = value),
      enumerable: true,
    });
  }
  return Object.assign(endpoint, { streams }) as LocalCloudWatchLogs;
};
