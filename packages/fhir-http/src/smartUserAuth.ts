// SMART App Launch as a user: FHIR read with the user's own access tokens, each got from the refresh
// token that `hipaa-fhir-mcp login` obtained. A rotated refresh token is handed back to be kept.
import * as E from 'fp-ts/lib/Either.js';
import got from 'got';
import { type FhirError, fhirError } from '@hipaa-fhir-mcp/core';
import type { FhirAuth } from './auth.js';
import { readCappedJson } from './fhirClient.js';
import { bearerFromTokenResponse, cachedBearerAuth, discoverSmartConfiguration } from './smartTokens.js';

export interface SmartUserConfig {
  /** The FHIR base URL; its `.well-known/smart-configuration` names the token endpoint. */
  readonly baseUrl: string;
  /** The public client the user logged in with. */
  readonly clientId: string;
  readonly refreshToken: string;
  readonly timeoutMs: number;
  /** Told of each new refresh token the server issues (rotation), to keep it in place of the old one. */
  readonly onRefreshToken?: (refreshToken: string) => Promise<void>;
}

export const smartUserAuth = (config: SmartUserConfig): FhirAuth => {
  const http = got.extend({ timeout: { request: config.timeoutMs }, retry: { limit: 1 }, followRedirect: false });
  let refreshToken = config.refreshToken;
  let tokenEndpoint: string | undefined;
  return cachedBearerAuth(async () => {
    if (tokenEndpoint === undefined) {
      const discovered = await discoverSmartConfiguration(http, config.baseUrl);
      if (E.isLeft(discovered)) return discovered;
      tokenEndpoint = discovered.right.tokenEndpoint;
    }
    const answer = await readCappedJson(
      http.post(tokenEndpoint, { responseType: 'buffer', form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: config.clientId } }),
      64 * 1024,
      'Rejected',
    );
    // A refused refresh (revoked, expired) means the user must log in again: AuthFailed, with no body copied.
    if (E.isLeft(answer)) return E.left(answer.left.reason === 'Rejected' ? fhirError('AuthFailed') : answer.left);
    const rotated = (answer.right as { refresh_token?: unknown } | null)?.refresh_token;
    if (typeof rotated === 'string' && rotated !== '' && rotated !== refreshToken) {
      refreshToken = rotated;
      await config.onRefreshToken?.(rotated).catch((): FhirError => fhirError('AuthFailed'));
    }
    return bearerFromTokenResponse(answer.right);
  });
};
