// SMART Backend Services (SMART App Launch 2.2, backend-services.md): discover the token endpoint
// from `.well-known/smart-configuration`, then `client_credentials` with a private_key_jwt assertion
// (RS384 or ES384, `kid`, unique `jti`, exp ≤ 5 min). Tokens live in memory only and are never logged.
import { createPrivateKey, type KeyObject, randomUUID } from 'node:crypto';
import * as E from 'fp-ts/lib/Either.js';
import got from 'got';
import { SignJWT } from 'jose';
import { type FhirError, fhirError } from '@hipaa-fhir-mcp/core';
import type { FhirAuth } from './auth.js';
import { readCappedJson } from './fhirClient.js';

export interface SmartBackendConfig {
  /** The FHIR base URL; its `.well-known/smart-configuration` names the token endpoint. */
  readonly baseUrl: string;
  readonly clientId: string;
  /** PKCS#8, SEC1 or PKCS#1 PEM of an RSA key (RS384) or a P-384 EC key (ES384). */
  readonly privateKeyPem: string;
  /** The `kid` of the matching public key in the client's registered JWKS. */
  readonly keyId: string;
  /** Space-separated SMART v2 scopes; default DEFAULT_SMART_SCOPES. */
  readonly scopes?: string | undefined;
  readonly timeoutMs: number;
  /** Renew this long before the token's expiry. Default 30 s. */
  readonly renewBeforeMs?: number;
}

export const DEFAULT_SMART_SCOPES = 'system/Patient.rs system/Observation.rs system/MedicationRequest.rs system/Medication.rs';

/** The key is unusable for SMART Backend Services; the message names the problem, never the key. */
export class SmartKeyError extends Error {
  override readonly name = 'SmartKeyError';
}

const signingAlgorithm = (key: KeyObject): 'RS384' | 'ES384' => {
  if (key.asymmetricKeyType === 'rsa') return 'RS384';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return 'ES384';
  throw new SmartKeyError('The SMART private key must be RSA (RS384) or EC P-384 (ES384).');
};

export const smartBackendAuth = (config: SmartBackendConfig): FhirAuth => {
  let key: KeyObject;
  try {
    key = createPrivateKey(config.privateKeyPem);
  } catch {
    throw new SmartKeyError('The SMART private key is not a readable PEM private key.');
  }
  const alg = signingAlgorithm(key);
  const base = config.baseUrl.endsWith('/') ? config.baseUrl : `${config.baseUrl}/`;
  const http = got.extend({ timeout: { request: config.timeoutMs }, retry: { limit: 1 }, followRedirect: false });
  const json = async (request: Parameters<typeof readCappedJson>[0]) => readCappedJson(request, 64 * 1024, 'Rejected');
  const renewBeforeMs = config.renewBeforeMs ?? 30_000;

  let tokenEndpoint: string | undefined;
  let cached: { readonly header: string; readonly renewAt: number } | undefined;
  let inFlight: Promise<E.Either<FhirError, string>> | undefined;

  /** The token endpoint named by the server: https, or plain http only on this machine (like FHIR_BASE_URL). */
  const discover = async (): Promise<E.Either<FhirError, string>> => {
    if (tokenEndpoint !== undefined) return E.right(tokenEndpoint);
    const configuration = await json(http.get(new URL('.well-known/smart-configuration', base), { responseType: 'buffer' }));
    if (E.isLeft(configuration)) return configuration;
    const named: unknown = (configuration.right as { token_endpoint?: unknown } | null)?.token_endpoint;
    try {
      const url = new URL(typeof named === 'string' ? named : '');
      const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
      if (url.username !== '' || url.password !== '' || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) throw new TypeError();
      tokenEndpoint = url.href;
      return E.right(tokenEndpoint);
    } catch {
      return E.left(fhirError('AuthFailed'));
    }
  };

  const fetchToken = async (): Promise<E.Either<FhirError, string>> => {
    const discovered = await discover();
    if (E.isLeft(discovered)) return discovered;
    const endpoint = discovered.right;
    try {
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg, kid: config.keyId, typ: 'JWT' })
        .setIssuer(config.clientId)
        .setSubject(config.clientId)
        .setAudience(endpoint)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('4m')
        .sign(key);
      const answer = await json(
        http.post(endpoint, {
          responseType: 'buffer',
          form: {
            grant_type: 'client_credentials',
            scope: config.scopes ?? DEFAULT_SMART_SCOPES,
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
          },
        }),
      );
      // The token endpoint's error body is not copied: it may echo the assertion.
      if (E.isLeft(answer)) return E.left(answer.left.reason === 'Rejected' ? fhirError('AuthFailed') : answer.left);
      const response = (answer.right ?? {}) as { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
      const bearer = typeof response.token_type === 'string' && response.token_type.toLowerCase() === 'bearer';
      if (typeof response.access_token !== 'string' || response.access_token === '' || !bearer) return E.left(fhirError('AuthFailed'));
      const lifetimeMs = (typeof response.expires_in === 'number' ? response.expires_in : 300) * 1000;
      const header = `Bearer ${response.access_token}`;
      cached = { header, renewAt: Date.now() + Math.max(lifetimeMs - renewBeforeMs, lifetimeMs / 2) };
      return E.right(header);
    } catch {
      return E.left(fhirError('Unavailable', true)); // signing failed: a defect of the key, reported as unavailable
    }
  };

  return {
    renewable: true,
    invalidate: () => {
      cached = undefined;
    },
    headersFor: async () => {
      if (cached !== undefined && Date.now() < cached.renewAt) return E.right({ authorization: cached.header });
      // Concurrent calls share one token request.
      inFlight ??= fetchToken().finally(() => {
        inFlight = undefined;
      });
      return E.map((authorization: string) => ({ authorization }))(await inFlight);
    },
  };
};
