// What SMART clients share: discovery of the server's endpoints from `.well-known/smart-configuration`
// (https, or http only on this machine), and a bearer token cached until shortly before it expires.
import * as E from 'fp-ts/lib/Either.js';
import type { Got } from 'got';
import { type FhirError, fhirError } from '@hipaa-fhir-mcp/core';
import type { FhirAuth } from './auth.js';
import { readCappedJson } from './fhirClient.js';

export interface SmartConfiguration {
  readonly tokenEndpoint: string;
  /** For user login (SMART App Launch); absent on a backend-services-only server. */
  readonly authorizationEndpoint: string | undefined;
  readonly issuer: string | undefined;
  readonly jwksUri: string | undefined;
  readonly supportsS256: boolean;
}

/** https, or plain http only to this machine; no credentials. */
const endpointUrl = (named: unknown): string | undefined => {
  try {
    const url = new URL(typeof named === 'string' ? named : '');
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (url.username !== '' || url.password !== '' || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) return undefined;
    return url.href;
  } catch {
    return undefined;
  }
};

/** See: https://hl7.org/fhir/smart-app-launch/conformance.html */
export const discoverSmartConfiguration = async (http: Got, baseUrl: string): Promise<E.Either<FhirError, SmartConfiguration>> => {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const configuration = await readCappedJson(http.get(new URL('.well-known/smart-configuration', base), { responseType: 'buffer' }), 64 * 1024, 'Rejected');
  if (E.isLeft(configuration)) return configuration;
  const named = (configuration.right ?? {}) as Record<string, unknown>;
  const tokenEndpoint = endpointUrl(named.token_endpoint);
  if (tokenEndpoint === undefined) return E.left(fhirError('AuthFailed'));
  const optional = (value: unknown) => (value === undefined ? undefined : endpointUrl(value));
  const methods = named.code_challenge_methods_supported;
  return E.right({
    tokenEndpoint,
    authorizationEndpoint: optional(named.authorization_endpoint),
    issuer: typeof named.issuer === 'string' ? named.issuer : undefined,
    jwksUri: optional(named.jwks_uri),
    supportsS256: Array.isArray(methods) && methods.includes('S256'),
  });
};

/** A token response's bearer token and lifetime, or AuthFailed; the body is never copied (it may echo secrets). */
export const bearerFromTokenResponse = (body: unknown): E.Either<FhirError, { readonly accessToken: string; readonly lifetimeMs: number }> => {
  const response = (body ?? {}) as { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
  const bearer = typeof response.token_type === 'string' && response.token_type.toLowerCase() === 'bearer';
  if (typeof response.access_token !== 'string' || response.access_token === '' || !bearer) return E.left(fhirError('AuthFailed'));
  return E.right({ accessToken: response.access_token, lifetimeMs: (typeof response.expires_in === 'number' ? response.expires_in : 300) * 1000 });
};

/** A FhirAuth over `fetchToken`: one token at a time, shared by concurrent calls, renewed before expiry. */
export const cachedBearerAuth = (
  fetchToken: () => Promise<E.Either<FhirError, { readonly accessToken: string; readonly lifetimeMs: number }>>,
  renewBeforeMs = 30_000,
): FhirAuth => {
  let cached: { readonly header: string; readonly renewAt: number } | undefined;
  let inFlight: Promise<E.Either<FhirError, string>> | undefined;
  const renew = async (): Promise<E.Either<FhirError, string>> => {
    const token = await fetchToken();
    if (E.isLeft(token)) return token;
    const { accessToken, lifetimeMs } = token.right;
    cached = { header: `Bearer ${accessToken}`, renewAt: Date.now() + Math.max(lifetimeMs - renewBeforeMs, lifetimeMs / 2) };
    return E.right(cached.header);
  };
  return {
    renewable: true,
    invalidate: () => {
      cached = undefined;
    },
    headersFor: async () => {
      if (cached !== undefined && Date.now() < cached.renewAt) return E.right({ authorization: cached.header });
      inFlight ??= renew().finally(() => {
        inFlight = undefined;
      });
      return E.map((authorization: string) => ({ authorization }))(await inFlight);
    },
  };
};
