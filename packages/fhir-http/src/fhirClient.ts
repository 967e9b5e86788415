// One GET of FHIR JSON, done defensively: same origin only, no cross-origin redirects, bounded time,
// size and retries, content checked. Failures become a FhirError with no message: got's errors hold
// the URL (and so the patient id), so none of them is kept.
import * as E from 'fp-ts/lib/Either.js';
import got, { CancelError, type CancelableRequest, HTTPError, MaxRedirectsError, type PlainResponse, type Response, TimeoutError } from 'got';
import { type FhirError, fhirError } from '@hipaa-fhir-mcp/core';
import type { FhirAuth } from './auth.js';

export interface FhirClientConfig {
  /** The FHIR base URL, e.g. `https://r4.smarthealthit.org` or `http://127.0.0.1:8080/fhir`. */
  readonly baseUrl: string;
  readonly auth: FhirAuth;
  /** Per attempt, whole request (connect included). */
  readonly timeoutMs: number;
  /** Further attempts after a network error, a timeout, 429, 502, 503 or 504 (GET only). */
  readonly retries: number;
  /** The longest Retry-After honoured; a longer one fails the call instead of waiting. */
  readonly maxRetryAfterMs: number;
  /** A response larger than this is abandoned. */
  readonly maxResponseBytes: number;
  /** First backoff between attempts; doubled each time, at most 2 s. A Retry-After takes precedence. */
  readonly retryBaseDelayMs: number;
}

export type NotFoundMeaning = 'NotFound' | 'Rejected';

const FHIR_JSON = /^application\/(fhir\+)?json(\s*;.*)?$/i;

const statusError = (status: number, notFound: NotFoundMeaning): FhirError => {
  if (status === 404 || status === 410) return fhirError(notFound);
  if (status === 401 || status === 403) return fhirError('AuthFailed');
  if (status === 429 || status === 502 || status === 503 || status === 504) return fhirError('Unavailable', true);
  if (status >= 500) return fhirError('Unavailable');
  if (status >= 400) return fhirError('Rejected');
  return fhirError('InvalidResponse');
};

/**
 * Awaits a got request whose body is a Buffer, abandoning it past `maxBytes` (decompressed), and
 * parses it as JSON of the right content type. Every failure is a message-free FhirError.
 */
export const readCappedJson = async (
  request: CancelableRequest<Response<Buffer>>,
  maxBytes: number,
  notFound: NotFoundMeaning,
): Promise<E.Either<FhirError, unknown>> => {
  request.on('downloadProgress', (progress: { transferred: number; total?: number }) => {
    if (progress.transferred > maxBytes || (progress.total ?? 0) > maxBytes) request.cancel();
  });
  let response: Response<Buffer>;
  try {
    response = await request;
  } catch (error) {
    if (error instanceof HTTPError) return E.left(statusError(error.response.statusCode, notFound));
    if (error instanceof TimeoutError || (error as { name?: unknown })?.name === 'AbortError') return E.left(fhirError('Timeout', true));
    if (error instanceof CancelError || error instanceof MaxRedirectsError) return E.left(fhirError('InvalidResponse'));
    return E.left(fhirError('Unavailable', true));
  }
  if (response.statusCode < 200 || response.statusCode > 299) return E.left(fhirError('InvalidResponse'));
  if (!FHIR_JSON.test(response.headers['content-type'] ?? '')) return E.left(fhirError('InvalidResponse'));
  try {
    return E.right(JSON.parse(response.body.toString('utf8')) as unknown);
  } catch {
    return E.left(fhirError('InvalidResponse'));
  }
};

export interface FhirClient {
  readonly base: URL;
  /** `Type/id` or `Type?query` relative to the base, encoded by the caller. */
  readonly resolve: (relative: string) => URL;
  readonly sameOrigin: (url: URL | string) => boolean;
  /** GETs `url` (which must be on the base's origin) and returns the parsed JSON body. */
  readonly getJson: (url: URL, notFound: NotFoundMeaning, signal?: AbortSignal) => Promise<E.Either<FhirError, unknown>>;
}


export const makeFhirClient = (config: FhirClientConfig): FhirClient => {
  const base = new URL(config.baseUrl.endsWith('/') ? config.baseUrl : `${config.baseUrl}/`);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new TypeError('FHIR base URL must be http or https');
  // Same scheme, host and port, and no credentials (got would send them instead of the bearer).
  const sameOrigin = (url: URL | string): boolean => {
    try {
      const parsed = new URL(url, base);
      return parsed.origin === base.origin && parsed.username === '' && parsed.password === '';
    } catch {
      return false;
    }
  };

  const client = got.extend({
    headers: { accept: 'application/fhir+json' },
    responseType: 'buffer',
    timeout: { request: config.timeoutMs },
    // Follow a redirect only within the origin; anything else comes back as a 3xx and is refused.
    followRedirect: (response: PlainResponse) => sameOrigin(response.headers.location ?? ''),
    maxRedirects: 3,
    retry: {
      limit: config.retries,
      methods: ['GET'],
      statusCodes: [429, 502, 503, 504],
      maxRetryAfter: config.maxRetryAfterMs,
      calculateDelay: ({ attemptCount, error, computedValue }) => {
        if (computedValue === 0) return 0; // got decided not to retry (limit, method, or Retry-After over the cap)
        if (error.response?.headers['retry-after'] !== undefined) return computedValue;
        return Math.min(config.retryBaseDelayMs * 2 ** (attemptCount - 1), 2000);
      },
    },
  });

  const attempt = async (url: URL, notFound: NotFoundMeaning, signal?: AbortSignal): Promise<E.Either<FhirError, unknown>> => {
    if (!sameOrigin(url)) return E.left(fhirError('InvalidResponse'));
    if (signal?.aborted === true) return E.left(fhirError('Timeout', true));
    const headers = await config.auth.headersFor(url);
    if (E.isLeft(headers)) return headers;
    const request = client.get(url, {
      headers: headers.right,
      responseType: 'buffer',
      ...(signal === undefined ? {} : { signal }),
    });
    return readCappedJson(request, config.maxResponseBytes, notFound);
  };

  return {
    base,
    sameOrigin,
    resolve: (relative) => new URL(relative, base),
    getJson: async (url, notFound, signal) => {
      const first = await attempt(url, notFound, signal);
      // A 401 with a renewable credential (an expired SMART token): drop it and try once more.
      if (E.isLeft(first) && first.left.reason === 'AuthFailed' && config.auth.renewable) {
        config.auth.invalidate();
        return attempt(url, notFound, signal);
      }
      return first;
    },
  };
};
