// SMART App Launch as a user: FHIR read with the user's own access tokens, each got from the refresh
// token that `hipaa-fhir-mcp login` obtained, at the token endpoint pinned at login. The caller holds
// the login exclusively for each refresh (several servers may share it) and keeps a rotated token.
import * as E from 'fp-ts/lib/Either.js';
import got from 'got';
import { type FhirError, fhirError } from '@hipaa-fhir-mcp/core';
import type { FhirAuth } from './auth.js';
import { readCappedJson } from './fhirClient.js';
import { bearerFromTokenResponse, cachedBearerAuth } from './smartTokens.js';

/** One refresh's outcome: the access token, and the new refresh token if the server rotated it. */
export type Refreshed = E.Either<FhirError, { readonly accessToken: string; readonly lifetimeMs: number; readonly rotated: string | undefined }>;

export interface SmartUserConfig {
  /** The token endpoint discovered at login and kept with it: a refresh token never goes anywhere else. */
  readonly tokenEndpoint: string;
  /** The public client the user logged in with. */
  readonly clientId: string;
  readonly timeoutMs: number;
  /**
   * Runs `refresh` with the refresh token at rest now, holding the login exclusively, and keeps the
   * rotated token it returns before letting go.
   */
  readonly refreshExclusively: (refresh: (refreshToken: string) => Promise<Refreshed>) => Promise<Refreshed>;
}

export const smartUserAuth = (config: SmartUserConfig): FhirAuth => {
  const http = got.extend({ timeout: { request: config.timeoutMs }, retry: { limit: 1 }, followRedirect: false });
  const refresh = async (refreshToken: string): Promise<Refreshed> => {
    const answer = await readCappedJson(
      http.post(config.tokenEndpoint, { responseType: 'buffer', form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: config.clientId } }),
      64 * 1024,
      'Rejected',
    );
    // A refused refresh (revoked, expired) means the user must log in again: AuthFailed, with no body copied.
    if (E.isLeft(answer)) return E.left(answer.left.reason === 'Rejected' ? fhirError('AuthFailed') : answer.left);
    const bearer = bearerFromTokenResponse(answer.right);
    if (E.isLeft(bearer)) return bearer;
    const rotated = (answer.right as { refresh_token?: unknown } | null)?.refresh_token;
    return E.right({ ...bearer.right, rotated: typeof rotated === 'string' && rotated !== '' && rotated !== refreshToken ? rotated : undefined });
  };
  return cachedBearerAuth(() => config.refreshExclusively(refresh));
};
