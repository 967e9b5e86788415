// The SMART user login's failure paths, against a real authorization server (oidc-provider) and the
// FHIR sandbox: no user login offered, a sign-in that never comes, a user who refuses, and a refresh
// token the server no longer honours. Each is a fixed, secret-free failure, never a crash.
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationServer, startAuthorizationServer } from '@hipaa-fhir-mcp/example-oauth-authorization-server';
import { type Sandbox, startSandbox } from '@hipaa-fhir-mcp/example-fhir-sandbox-server';
import { loginWithSmart } from './smartUserLogin.js';
import { smartUserAuth } from './smartUserAuth.js';

let as: AuthorizationServer;
let withLogin: Sandbox;
let backendOnly: Sandbox;
const clientId = 'desktop';

beforeAll(async () => {
  backendOnly = await startSandbox({ bundles: [] });
  as = await startAuthorizationServer({ resource: 'http://127.0.0.1:9/fhir', clients: [], loginClients: [{ clientId, scope: 'user/Patient.rs' }] });
  withLogin = await startSandbox({
    bundles: [],
    smartLogin: { issuer: as.issuer, authorizationEndpoint: as.authorizationEndpoint, tokenEndpoint: as.tokenEndpoint, jwksUri: as.jwksUri },
  });
}, 30_000);
afterAll(async () => Promise.all([as?.close(), withLogin?.close(), backendOnly?.close()]));

const login = (baseUrl: string, signInTimeoutMs: number, tell: (url: string) => void = () => undefined) =>
  loginWithSmart({ baseUrl, clientId, scopes: 'openid fhirUser offline_access user/Patient.rs', timeoutMs: 5_000, signInTimeoutMs, tell });

describe('SMART user login, when it cannot complete', () => {
  it('refuses a server that offers no user login (backend services only)', async () => {
    expect(await login(backendOnly.baseUrl, 1_000)).toStrictEqual(E.left('the FHIR server does not offer user login with PKCE S256.'));
  });

  it('gives up when no sign-in comes back in time', async () => {
    let told = '';
    expect(await login(withLogin.baseUrl, 300, (url) => (told = url))).toStrictEqual(E.left('the sign-in did not complete (timed_out).'));
    expect(told).toContain('code_challenge_method=S256');
  });

  it('reports a refusal by its OAuth error code only', async () => {
    const result = login(withLogin.baseUrl, 10_000, (url) => {
      const authorize = new URL(url);
      const redirect = new URL(authorize.searchParams.get('redirect_uri') as string);
      redirect.search = new URLSearchParams({ error: 'access_denied', error_description: 'The user said no, see Patient/123', state: authorize.searchParams.get('state') as string }).toString();
      void fetch(redirect);
    });
    expect(await result).toStrictEqual(E.left('the sign-in did not complete (access_denied).'));
  });

  it('answers AuthFailed for a refresh token the server does not honour, without a crash', async () => {
    const auth = smartUserAuth({
      tokenEndpoint: as.tokenEndpoint,
      clientId,
      timeoutMs: 5_000,
      refreshExclusively: (refresh) => refresh('not-a-refresh-token'),
    });
    expect(await auth.headersFor(new URL(withLogin.baseUrl))).toStrictEqual(E.left({ _tag: 'FhirError', reason: 'AuthFailed', retryable: false }));
  });
});
