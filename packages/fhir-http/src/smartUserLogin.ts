// A SMART standalone launch for a user (SMART App Launch 2.2, app-launch.md): authorization code with
// PKCE S256 and a loopback redirect (RFC 8252), endpoints from the FHIR server's smart-configuration;
// the id token is verified against the server's keys. Nothing it receives is ever printed.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as E from 'fp-ts/lib/Either.js';
import got from 'got';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { readCappedJson } from './fhirClient.js';
import { discoverSmartConfiguration } from './smartTokens.js';

export interface SmartLoginConfig {
  readonly baseUrl: string;
  /** A public client registered for this login, with loopback redirects allowed. */
  readonly clientId: string;
  readonly scopes: string;
  /** Per HTTP request. */
  readonly timeoutMs: number;
  /** How long the user has to sign in. */
  readonly signInTimeoutMs: number;
  /** Shows the user where to sign in. */
  readonly tell: (authorizeUrl: string) => void;
}

export interface SmartLoginResult {
  readonly refreshToken: string;
  /** Where the refresh token may be used, pinned from discovery at login. */
  readonly tokenEndpoint: string;
  readonly sub: string;
  /** The user's FHIR resource (`Practitioner/…`), from the verified id token. */
  readonly fhirUser: string | undefined;
  /** The grant is a patient's own (a `patient` in context, or `patient/` scopes): its `sub` names a patient. */
  readonly patientFacing: boolean;
}

/** Why a login failed, as a fixed text: never a token, a code or the server's own words. */
export type SmartLoginFailure = string;

const base64url = (bytes: Buffer): string => bytes.toString('base64url');

export const loginWithSmart = async (config: SmartLoginConfig): Promise<E.Either<SmartLoginFailure, SmartLoginResult>> => {
  const http = got.extend({ timeout: { request: config.timeoutMs }, followRedirect: false, retry: { limit: 1 } });
  const smart = await discoverSmartConfiguration(http, config.baseUrl);
  if (E.isLeft(smart)) return E.left("the FHIR server's .well-known/smart-configuration could not be read.");
  const { authorizationEndpoint, tokenEndpoint, issuer, jwksUri, supportsS256 } = smart.right;
  if (authorizationEndpoint === undefined || !supportsS256) return E.left('the FHIR server does not offer user login with PKCE S256.');
  if (issuer === undefined || jwksUri === undefined) return E.left('the FHIR server names no issuer and jwks_uri, so the signed-in user could not be verified.');

  // PKCE S256 (never plain) and a state of 128 bits.
  const verifier = base64url(randomBytes(32));
  const state = base64url(randomBytes(16));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const answer = await new Promise<{ code: string } | { error: string }>((resolve) => {
    const finish = (result: { code: string } | { error: string }) => {
      server.close();
      resolve(result);
    };
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', redirectUri);
      // Only the redirect that carries this login's state counts: any other request to the loopback
      // port (another local process, a page probing ports) is turned away and the login goes on.
      const given = Buffer.from(url.searchParams.get('state') ?? '');
      const expected = Buffer.from(state);
      if (url.pathname !== '/callback' || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return void res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('Not this sign-in.\n');
      }
      const code = url.searchParams.get('code');
      res.writeHead(code === null ? 400 : 200, { 'content-type': 'text/plain; charset=utf-8' }).end(code === null ? 'The sign-in did not complete.\n' : 'Signed in to hipaa-fhir-mcp. You can close this window.\n');
      // OAuth's error codes are fixed values; the server's description is not repeated.
      const error = url.searchParams.get('error') ?? '';
      finish(code !== null ? { code } : { error: /^[a-z_]{1,40}$/.test(error) ? error : 'invalid_callback' });
    });
    setTimeout(() => finish({ error: 'timed_out' }), config.signInTimeoutMs).unref();
    const authorize = new URL(authorizationEndpoint);
    const params = {
      response_type: 'code',
      client_id: config.clientId,
      redirect_uri: redirectUri,
      scope: config.scopes,
      state,
      aud: config.baseUrl, // SMART's name for the resource
      resource: config.baseUrl, // RFC 8707's
      code_challenge: base64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
      prompt: 'consent', // offline_access (a refresh token) needs the user's consent
    };
    for (const [name, value] of Object.entries(params)) authorize.searchParams.set(name, value);
    config.tell(authorize.href);
  });
  if ('error' in answer) return E.left(`the sign-in did not complete (${answer.error}).`);

  const answered = await readCappedJson(
    http.post(tokenEndpoint, {
      responseType: 'buffer',
      form: { grant_type: 'authorization_code', code: answer.code, redirect_uri: redirectUri, client_id: config.clientId, code_verifier: verifier },
    }),
    64 * 1024,
    'Rejected',
  ); // the error body is not copied: it may echo the code
  if (E.isLeft(answered)) return E.left('the token endpoint refused the authorization code.');
  const tokens = (answered.right ?? {}) as { refresh_token?: unknown; id_token?: unknown; patient?: unknown; scope?: unknown };
  if (typeof tokens.refresh_token !== 'string' || typeof tokens.id_token !== 'string') {
    return E.left('the token endpoint returned no refresh token or no id token: the scopes must include openid and offline_access.');
  }
  const verified = await jwtVerify(tokens.id_token, createRemoteJWKSet(new URL(jwksUri)), { issuer, audience: config.clientId }).catch(() => undefined);
  const sub = verified?.payload.sub;
  if (verified === undefined || typeof sub !== 'string' || sub === '') return E.left('the id token could not be verified.');
  const fhirUser = typeof verified.payload.fhirUser === 'string' ? verified.payload.fhirUser : undefined;
  const patientFacing = tokens.patient !== undefined || (typeof tokens.scope === 'string' ? tokens.scope : config.scopes).split(' ').some((scope) => scope.startsWith('patient/'));
  return E.right({ refreshToken: tokens.refresh_token, tokenEndpoint, sub, fhirUser, patientFacing });
};
