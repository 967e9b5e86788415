// A stand-in for an AWS HealthLake data store in tests: it checks each request's SigV4 signature
// (service `healthlake`), enforces HealthLake's `_count` ≤ 100, and forwards the FHIR request to a
// local FHIR server, rewriting that server's own URLs in the answer to the data store's.
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signatureMatches, type TestCredentials } from './sigv4Endpoint.js';

export interface HealthLakeProxy {
  /** The data store's FHIR base, `http://127.0.0.1:PORT/datastore/<id>/r4`. */
  readonly baseUrl: string;
  readonly requests: { readonly path: string; readonly signatureValid: boolean }[];
  /** The only credentials it accepts; set it to rotate them (the old ones then fail). */
  credentials: TestCredentials;
  readonly close: () => Promise<void>;
}

export const startHealthLakeProxy = async (options: {
  /** The FHIR server behind it, e.g. the sandbox's baseUrl. */
  readonly fhirBaseUrl: string;
  readonly credentials: TestCredentials;
  readonly region?: string;
  readonly datastoreId?: string;
}): Promise<HealthLakeProxy> => {
  const region = options.region ?? 'us-east-1';
  const prefix = `/datastore/${options.datastoreId ?? '0123456789abcdef0123456789abcdef'}/r4`;
  const target = new URL(options.fhirBaseUrl);
  const requests: { path: string; signatureValid: boolean }[] = [];
  let baseUrl = '';
  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://placeholder');
      const signatureValid = await signatureMatches(request, '', 'healthlake', region, proxy.credentials);
      requests.push({ path: `${url.pathname}${url.search}`, signatureValid });
      const refuse = (status: number, type: string) => {
        response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
        response.end(JSON.stringify({ __type: type }));
      };
      if (!signatureValid) return refuse(403, 'InvalidSignatureException');
      if (!url.pathname.startsWith(`${prefix}/`)) return refuse(404, 'ResourceNotFoundException');
      if (Number(url.searchParams.get('_count') ?? 0) > 100) return refuse(400, 'ValidationException');
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: 'GET', path: `${target.pathname}${url.pathname.slice(prefix.length)}${url.search}`, headers: { accept: 'application/fhir+json' } },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8').replaceAll(options.fhirBaseUrl, baseUrl);
            response.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'application/fhir+json' });
            response.end(body);
          });
        },
      );
      upstream.on('error', () => refuse(502, 'InternalServerException'));
      upstream.end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  const proxy: HealthLakeProxy = { baseUrl, requests, credentials: options.credentials, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  return proxy;
};
