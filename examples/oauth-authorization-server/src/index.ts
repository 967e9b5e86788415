// A real OAuth 2.1 / OpenID authorization server (oidc-provider) on loopback, for tests and benches:
// JWT access tokens (RFC 9068) for a resource, with SMART scopes and, per client, fhirUser and patient;
// optionally user login (authorization code + PKCE, a public native client) with a test sign-in page.
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import type { Server } from 'node:http';
import * as jose from 'jose';
import Provider from 'oidc-provider';

/** A confidential client (client_credentials, client_secret_basic) and the claims its tokens carry. */
export interface TestClient {
  readonly clientId: string;
  /** SMART scopes it may ask for, space-separated, e.g. `patient/*.rs`. */
  readonly scope: string;
  /** Added to its access tokens: `fhirUser`, `patient` (the SMART launch context), … */
  readonly claims?: Record<string, string>;
  /** Access token lifetime in seconds. Default 300 (SMART's recommended most). */
  readonly accessTokenTtl?: number;
}

/** A public client that signs users in (SMART standalone launch): authorization code + PKCE S256. */
export interface LoginClient {
  readonly clientId: string;
  /** SMART scopes it may ask for, besides openid, fhirUser and offline_access. */
  readonly scope: string;
}

export interface AuthorizationServer {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  /**
   * Plays the user's browser through oidc-provider's test sign-in and consent pages, signing in as
   * `user` (whose fhirUser is `Practitioner/<user>`), and returns where the server redirected.
   */
  readonly signInAs: (authorizeUrl: string, user: string) => Promise<URL>;
  /** Asks the token endpoint for an access token, as a client would. */
  readonly token: (clientId: string, options?: { readonly scope?: string; readonly resource?: string }) => Promise<string>;
  readonly close: () => Promise<void>;
}

export const CLIENT_SECRET = 'test-client-secret-made-for-this-run';

/**
 * A loopback port free just now: tokens name their resource server's URL, so it must be known before
 * that server listens.
 */
export const freeLoopbackPort = (): Promise<number> =>
  new Promise((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

/** Starts the server on 127.0.0.1; tokens are for `resource` unless a request names another. */
export const startAuthorizationServer = async (config: {
  readonly resource: string;
  readonly clients: readonly TestClient[];
  readonly loginClients?: readonly LoginClient[];
}): Promise<AuthorizationServer> => {
  const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const signingKey = { ...(await jose.exportJWK(privateKey)), kid: 'test-signing-key', alg: 'ES256', use: 'sig' };
  const byId = new Map(config.clients.map((client) => [client.clientId, client]));
  // The issuer needs the port, which is known only once listening: listen first, then mount.
  let handler: ((req: unknown, res: unknown) => void) | undefined;
  const { createServer } = await import('node:http');
  const http: Server = createServer((req, res) => (handler === undefined ? res.writeHead(503).end() : handler(req, res)));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const loginClients = config.loginClients ?? [];
  const loginScopes = new Map(loginClients.map((client) => [client.clientId, client.scope]));
  const allScopes = [...new Set([...config.clients, ...loginClients].flatMap((c) => c.scope.split(' ')))].join(' ');

  const provider = new Provider(issuer, {
    clients: [
      ...config.clients.map((client) => ({
        client_id: client.clientId,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: client.scope,
      })),
      // RFC 8252: a native app's loopback redirect may use any port.
      ...loginClients.map((client) => ({
        client_id: client.clientId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        scope: `openid fhirUser offline_access ${client.scope}`,
      })),
    ],
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, fhirUser: `Practitioner/${id}` }) }),
    claims: { openid: ['sub'], fhirUser: ['fhirUser'] },
    conformIdTokenClaims: false,
    jwks: { keys: [signingKey as jose.JWK & { kid: string }] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    scopes: ['openid', 'offline_access', 'fhirUser', ...allScopes.split(' ')],
    features: {
      devInteractions: { enabled: loginClients.length > 0 },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => config.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator, client) => ({
          scope: byId.get(client.clientId)?.scope ?? loginScopes.get(client.clientId) ?? '',
          audience: indicator,
          accessTokenTTL: byId.get(client.clientId)?.accessTokenTtl ?? 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    ttl: { ClientCredentials: (_ctx: unknown, _token: unknown, client: { clientId: string }) => byId.get(client.clientId)?.accessTokenTtl ?? 300 },
    extraTokenClaims: (_ctx, token) => byId.get((token as { clientId?: string }).clientId ?? '')?.claims,
  } as ConstructorParameters<typeof Provider>[1]);
  const callback = provider.callback();
  handler = callback as (req: unknown, res: unknown) => void;

  const signInAs = async (authorizeUrl: string, user: string): Promise<URL> => {
    const cookies = new Map<string, string>();
    const request = async (url: string, init: RequestInit = {}): Promise<string> => {
      const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const at = (pair ?? '').indexOf('=');
        cookies.set((pair ?? '').slice(0, at), (pair ?? '').slice(at + 1));
      }
      const location = response.headers.get('location');
      if (location === null) throw new Error(`sign-in stopped at HTTP ${response.status}`);
      return new URL(location, url).href;
    };
    const submit = (interaction: string, form: Record<string, string>) =>
      request(interaction, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    // authorize → login page → (submit) → authorize again → consent page → (submit) → authorize → the client's redirect
    let next = await request(authorizeUrl);
    next = await request(await submit(next, { prompt: 'login', login: user, password: 'test' }));
    next = await request(await submit(next, { prompt: 'consent' }));
    return new URL(next);
  };

  return {
    issuer,
    authorizationEndpoint: `${issuer}/auth`,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    signInAs,
    token: async (clientId, options = {}) => {
      const form = new URLSearchParams({ grant_type: 'client_credentials', scope: options.scope ?? byId.get(clientId)?.scope ?? '', resource: options.resource ?? config.resource });
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      const body = (await response.json()) as { access_token?: string; error?: string };
      if (body.access_token === undefined) throw new Error(`token request refused: ${body.error ?? response.status}`);
      return body.access_token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
};
