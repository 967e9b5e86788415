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
import { bearerFromTokenResponse, cachedBearerAuth, discoverSmartConfiguration } from './smartTokens.js';

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
  const http = got.extend({ timeout: { request: config.timeoutMs }, retry: { limit: 1 }, followRedirect: false });
  const json = async (request: Parameters<typeof readCappedJson>[0]) => readCappedJson(request, 64 * 1024, 'Rejected');
  let tokenEndpoint: string | undefined;

  const fetchToken = async (): Promise<E.Either<FhirError, { readonly accessToken: string; readonly lifetimeMs: number }>> => {
    if (tokenEndpoint === undefined) {
      const discovered = await discoverSmartConfiguration(http, config.baseUrl);
      if (E.isLeft(discovered)) return discovered;
      tokenEndpoint = discovered.right.tokenEndpoint;
    }
    const endpoint = tokenEndpoint;
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
      return bearerFromTokenResponse(answer.right);
    } catch {
      return E.left(fhirError('Unavailable', true)); // signing failed: a defect of the key, reported as unavailable
    }
  };

  return cachedBearerAuth(fetchToken, config.renewBeforeMs);
};
