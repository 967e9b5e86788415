// The real AWS SDK v3 CloudWatch Logs client against a local endpoint that verifies every request's
// SigV4 signature and enforces PutLogEvents' limits.
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditError, verifyChain } from '@hipaa-fhir-mcp/core';
import { auditSinkContract, sampleAuditRecord } from '@hipaa-fhir-mcp/core/testing';
import { AwsError, type LocalCloudWatchLogs, startLocalCloudWatchLogs } from '@hipaa-fhir-mcp/example-aws-local-endpoints';
import { CloudWatchAuditError, makeCloudWatchAuditSink } from './cloudWatchAuditSink.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const credentials = { accessKeyId: 'AKIDLOGSTEST', secretAccessKey: 'logs-secret-made-for-this-test' };
const GROUP = 'hipaa-fhir-mcp-audit';

let logs: LocalCloudWatchLogs;
let client: CloudWatchLogsClient;
let streams = 0;
beforeAll(async () => {
  logs = await startLocalCloudWatchLogs(credentials);
  client = new CloudWatchLogsClient(logs.clientConfig);
});
afterAll(async () => logs.close());

const newStream = () => `instance-${++streams}`;
const stored = (stream: string) => logs.streams.get(`${GROUP}/${stream}`) ?? [];
const records = (stream: string) =>
  stored(stream).map((e) => {
    const { seq: _s, prev_hash: _p, ...record } = JSON.parse(e.message) as Record<string, unknown>;
    return record;
  });

auditSinkContract('audit-cloudwatch', async () => {
  const logStream = newStream();
  const sink = await makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream, lingerMs: 5 });
  return { sink, close: sink.close, readBack: async () => records(logStream) };
});

describe('audit-cloudwatch', () => {
  it('lets concurrent calls share a batch, and chains the stream', async () => {
    const logStream = newStream();
    const sink = await makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream, lingerMs: 20 });
    const before = logs.calls.filter((c) => c.target.endsWith('PutLogEvents')).length;
    const results = await Promise.all(Array.from({ length: 300 }, (_, n) => sink.append(sampleAuditRecord(n))()));
    await sink.close();
    expect(results.every(E.isRight)).toBe(true);
    expect(logs.calls.filter((c) => c.target.endsWith('PutLogEvents')).length - before).toBe(1);
    expect(verifyChain(stored(logStream).map((e) => e.message))).toStrictEqual({ head: sink.head(), records: 300 });
    expect(logs.calls.every((c) => c.signatureValid)).toBe(true);
  });

  it('splits a batch at the byte limit (1,048,576 bytes counting 26 per event)', async () => {
    const logStream = newStream();
    const sink = await makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream, lingerMs: 20 });
    const big = 'x'.repeat(200);
    const caller = (n: number) => `${big}-${n}` as never;
    const results = await Promise.all(Array.from({ length: 3000 }, (_, n) => sink.append(sampleAuditRecord(n, { caller_identity: caller(n) }))()));
    await sink.close();
    expect(results.every(E.isRight)).toBe(true);
    expect(stored(logStream)).toHaveLength(3000);
    expect(verifyChain(stored(logStream).map((e) => e.message)).fault).toBeUndefined();
  });

  it('fails closed while CloudWatch rejects events or throttles, and recovers with nothing lost or doubled', async () => {
    const logStream = newStream();
    const sink = await makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream, lingerMs: 1, retryDelayMs: 1 });
    expect(await sink.append(sampleAuditRecord(1))()).toStrictEqual(E.right(undefined));
    logs.rejectEvents = true;
    expect(await sink.append(sampleAuditRecord(2))()).toStrictEqual(E.left(auditError('Rejected', true)));
    logs.rejectEvents = false;
    logs.failWith = new AwsError('AccessDeniedException', 'not authorized to perform: logs:PutLogEvents');
    expect(await sink.append(sampleAuditRecord(3))()).toStrictEqual(E.left(auditError('WriteFailed', true)));
    logs.failWith = new AwsError('ThrottlingException', 'Rate exceeded'); // throttled past the retries
    expect(await sink.append(sampleAuditRecord(3))()).toStrictEqual(E.left(auditError('WriteFailed', true)));
    logs.failWith = undefined;
    expect(await sink.append(sampleAuditRecord(4))()).toStrictEqual(E.right(undefined));
    await sink.close();
    expect(sink.logStream()).toBe(logStream); // refused whole each time: nothing uncertain, same stream
    expect(records(logStream)).toStrictEqual([sampleAuditRecord(1), sampleAuditRecord(4)]);
    expect(verifyChain(stored(logStream).map((e) => e.message)).fault).toBeUndefined();
  });

  it('rides out a short throttling burst by sending the refused batch again: stored once, acknowledged once', async () => {
    const logStream = newStream();
    const sink = await makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream, lingerMs: 1, retryDelayMs: 1 });
    logs.failWith = new AwsError('ThrottlingException', 'Rate exceeded');
    logs.failTimes = 3;
    expect(await sink.append(sampleAuditRecord(1))()).toStrictEqual(E.right(undefined));
    logs.failWith = undefined;
    logs.failTimes = undefined;
    await sink.close();
    expect(records(logStream)).toStrictEqual([sampleAuditRecord(1)]);
  });

  it('after a failure that may have stored the batch, continues on a new stream, so none holds a record twice', async () => {
    const logStream = newStream();
    const sink = await makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream, lingerMs: 1 });
    expect(await sink.append(sampleAuditRecord(1))()).toStrictEqual(E.right(undefined));
    logs.storeThenFail = 1; // stored, but the answer is a 500
    expect(await sink.append(sampleAuditRecord(2))()).toStrictEqual(E.left(auditError('WriteFailed', true)));
    expect(await sink.append(sampleAuditRecord(3))()).toStrictEqual(E.right(undefined));
    await sink.close();
    expect(sink.logStream()).toBe(`${logStream}/2`);
    // The uncertain record stays where it landed (it was not acknowledged); each stream is one clean chain.
    expect(records(logStream)).toStrictEqual([sampleAuditRecord(1), sampleAuditRecord(2)]);
    expect(records(`${logStream}/2`)).toStrictEqual([sampleAuditRecord(3)]);
    for (const name of [logStream, `${logStream}/2`]) expect(verifyChain(stored(name).map((e) => e.message)).fault).toBeUndefined();
  });

  it('fails a stalled batch at the request deadline, and continues on a new stream', async () => {
    const withDeadline = new CloudWatchLogsClient({ ...logs.clientConfig, requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true } });
    const logStream = newStream();
    const sink = await makeCloudWatchAuditSink({ logs: withDeadline, logGroup: GROUP, logStream, lingerMs: 1 });
    logs.stallTimes = 1; // handled (stored) but never answered
    expect(await sink.append(sampleAuditRecord(1))()).toStrictEqual(E.left(auditError('WriteFailed', true)));
    expect(await sink.append(sampleAuditRecord(2))()).toStrictEqual(E.right(undefined));
    await sink.close();
    expect(records(`${logStream}/2`)).toStrictEqual([sampleAuditRecord(2)]);
  });

  it('refuses a client that would retry PutLogEvents itself, and answers every close only once all is sent', async () => {
    const retrying = new CloudWatchLogsClient({ ...logs.clientConfig, maxAttempts: 3 });
    await expect(makeCloudWatchAuditSink({ logs: retrying, logGroup: GROUP, logStream: newStream() })).rejects.toThrow(/maxAttempts: 1/);
    const logStream = newStream();
    const sink = await makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream, lingerMs: 50 });
    const appended = sink.append(sampleAuditRecord(1))();
    await Promise.all([sink.close(), sink.close()]);
    expect(stored(logStream)).toHaveLength(1); // the second close, too, waited for the flush
    expect(await appended).toStrictEqual(E.right(undefined));
  });

  it('fails calls closed once its buffer is full, rather than growing', async () => {
    const sink = await makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream: newStream(), lingerMs: 50, maxPending: 3 });
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => sink.append(sampleAuditRecord(n))()));
    await sink.close();
    expect(results.map(E.isRight)).toStrictEqual([true, true, true, false, false]);
  });

  it('refuses to start when the stream cannot be created, naming the AWS error only', async () => {
    const logStream = newStream();
    await makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream });
    await expect(makeCloudWatchAuditSink({ logs: client, logGroup: GROUP, logStream })).rejects.toThrow(
      new CloudWatchAuditError('The audit log stream already exists; each server instance needs a stream of its own (leave AUDIT_LOG_STREAM unset to get one).'),
    );
    const denied = new CloudWatchLogsClient({ ...logs.clientConfig, credentials: { ...credentials, secretAccessKey: 'wrong' } });
    await expect(makeCloudWatchAuditSink({ logs: denied, logGroup: GROUP, logStream: newStream() })).rejects.toThrow(
      new CloudWatchAuditError('CloudWatch Logs refused to create the audit log stream (InvalidSignatureException); check AUDIT_LOG_GROUP and the logs:CreateLogStream permission.'),
    );
  });
});
