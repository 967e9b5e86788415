// A local AWS endpoint for tests: it verifies every request's SigV4 signature by signing the request
// again with the test credentials (the headers the client signed, the date it signed at), records
// what the real SDK sent, and dispatches AWS JSON-protocol calls on `x-amz-target`.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface TestCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface RecordedCall {
  readonly target: string;
  readonly body: Record<string, unknown>;
  readonly signatureValid: boolean;
}

/** An AWS error as the JSON protocol sends it: HTTP status, `__type` and message. */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export type Handler = (body: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>;

export interface SigV4Endpoint {
  readonly url: string;
  /** What an AWS SDK client needs to reach this endpoint with the test's credentials, one attempt per request. */
  readonly clientConfig: { readonly region: string; readonly endpoint: string; readonly credentials: TestCredentials; readonly maxAttempts: 1 };
  readonly calls: RecordedCall[];
  /** Calls fail with this (e.g. throttling) while set: the next `failTimes` calls, or all if that is unset. */
  failWith: AwsError | undefined;
  failTimes: number | undefined;
  /** The next this many requests are read, handled, and never answered (a stalled connection). */
  stallTimes: number;
  readonly close: () => Promise<void>;
}

const readBody = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
};

/** Every query parameter with all its values, as the client should have signed them. */
const queryOf = (url: URL): Record<string, string | string[]> => {
  const query: Record<string, string | string[]> = {};
  for (const name of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(name);
    query[name] = values.length === 1 ? (values[0] as string) : values;
  }
  return query;
};

/** Re-signs the request from its signed headers and compares the Authorization header. */
export const signatureMatches = async (request: IncomingMessage, body: string, service: string, region: string, credentials: TestCredentials): Promise<boolean> => {
  const authorization = request.headers.authorization ?? '';
  const signed = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const amzDate = request.headers['x-amz-date'];
  if (signed.length === 0 || typeof amzDate !== 'string' || !authorization.includes(`Credential=${credentials.accessKeyId}/`)) return false;
  const headers = Object.fromEntries(signed.map((name) => [name, String(request.headers[name] ?? '')]));
  const url = new URL(request.url ?? '/', 'http://placeholder');
  const toSign = new HttpRequest({
    method: request.method ?? 'POST',
    protocol: 'http:',
    hostname: String(request.headers.host ?? '').split(':')[0] ?? '',
    ...(String(request.headers.host ?? '').includes(':') ? { port: Number(String(request.headers.host).split(':')[1]) } : {}),
    path: url.pathname,
    query: queryOf(url),
    headers,
    body,
  });
  const signer = new SignatureV4({ service, region, credentials, sha256: Sha256, applyChecksum: true });
  const date = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const resigned = await signer.sign(toSign, { signingDate: date });
  return resigned.headers.authorization === authorization;
};

export const startSigV4Endpoint = async (options: {
  readonly service: string;
  readonly region: string;
  readonly credentials: TestCredentials;
  readonly handlers: Readonly<Record<string, Handler>>;
}): Promise<SigV4Endpoint> => {
  const calls: RecordedCall[] = [];
  const endpoint: SigV4Endpoint = {
    url: '',
    clientConfig: { region: options.region, endpoint: '', credentials: options.credentials, maxAttempts: 1 },
    calls,
    failWith: undefined,
    failTimes: undefined,
    stallTimes: 0,
    close: async () => undefined,
  };
  const server = createServer((request, response) => {
    void (async () => {
      const raw = await readBody(request);
      const target = String(request.headers['x-amz-target'] ?? '');
      const body = (raw === '' ? {} : JSON.parse(raw)) as Record<string, unknown>;
      const signatureValid = await signatureMatches(request, raw, options.service, options.region, options.credentials);
      calls.push({ target, body, signatureValid });
      const stalled = endpoint.stallTimes > 0;
      if (stalled) endpoint.stallTimes--;
      const reply = (status: number, payload: Record<string, unknown>, headers: Record<string, string> = {}) => {
        if (stalled) return;
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...headers });
        response.end(JSON.stringify(payload));
      };
      try {
        if (!signatureValid) throw new AwsError('InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
        if (endpoint.failWith !== undefined && (endpoint.failTimes === undefined || endpoint.failTimes > 0)) {
          if (endpoint.failTimes !== undefined) endpoint.failTimes--;
          throw endpoint.failWith;
        }
        const handler = options.handlers[target.split('.').at(-1) ?? ''];
        if (handler === undefined) throw new AwsError('UnknownOperationException', 'Unknown operation');
        reply(200, await handler(body));
      } catch (error) {
        const e = error instanceof AwsError ? error : new AwsError('InternalFailure', 'internal', 500);
        reply(e.status, { __type: e.type, message: e.message }, { 'x-amzn-errortype': e.type });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(endpoint, {
    url,
    clientConfig: { ...endpoint.clientConfig, endpoint: url },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // stalled ones included
      }),
  });
};
