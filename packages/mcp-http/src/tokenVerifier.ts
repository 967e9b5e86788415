// Access tokens checked as an OAuth 2.1 resource server must (MCP authorization; RFC 9068): a JWT
// signed by the authorization server's key, from its issuer, unexpired, for this server as audience.
import * as jose from 'jose';

export interface OAuthResourceConfig {
  /** The authorization server's issuer identifier: tokens' `iss` must equal it. */
  readonly issuer: string;
  /** This server's resource identifier, the URL clients connect to (e.g. https://mcp.example.org/mcp): tokens' `aud` must name it. */
  readonly resource: string;
  /** The authorization server's JWKS. Default: `jwks_uri` from its metadata (RFC 8414, else OpenID discovery). */
  readonly jwksUri?: string;
  /** Seconds of clock skew allowed on `exp` and `nbf`. Default 5. */
  readonly clockToleranceSeconds?: number;
}

/** A token's outcome: its claims, or why not — `invalid` (401) or `unavailable` (the keys could not be fetched: 503). */
export type TokenCheck = { readonly ok: true; readonly claims: jose.JWTPayload } | { readonly ok: false; readonly reason: 'invalid' | 'unavailable' };

export interface TokenVerifier {
  readonly verify: (token: string) => Promise<TokenCheck>;
}

const ALGORITHMS = ['ES256', 'ES384', 'RS256', 'RS384', 'PS256', 'PS384', 'EdDSA'];

/** The metadata URLs to try for an issuer: RFC 8414's (path after the well-known part), then OpenID's. */
const metadataUrls = (issuer: string): string[] => {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [`${url.origin}/.well-known/oauth-authorization-server${path}`, `${url.origin}${path}/.well-known/openid-configuration`];
};

const discoverJwksUri = async (issuer: string): Promise<string> => {
  for (const candidate of metadataUrls(issuer)) {
    const response = await fetch(candidate, { signal: AbortSignal.timeout(5_000), redirect: 'error' }).catch(() => undefined);
    if (response?.ok !== true) continue;
    const metadata = (await response.json().catch(() => undefined)) as { issuer?: unknown; jwks_uri?: unknown } | undefined;
    // RFC 8414 §3.3: the metadata must be the issuer's own.
    if (metadata?.issuer === issuer && typeof metadata.jwks_uri === 'string') return metadata.jwks_uri;
  }
  throw new Error('The authorization server metadata could not be read.');
};

/** The authorization server's keys could not be had (unreachable, an error status, not a JWKS). */
class KeysUnavailable extends Error {}

/**
 * The remote key set, with every failure to fetch or read it told apart from a token whose `kid` is
 * not in it: jose reports a 503 or a broken JWKS with the same error class as a bad token.
 */
const remoteKeys = (uri: string): jose.JWTVerifyGetKey => {
  const keySet = jose.createRemoteJWKSet(new URL(uri), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      if (error instanceof jose.errors.JWKSNoMatchingKey || error instanceof jose.errors.JWKSMultipleMatchingKeys || error instanceof jose.errors.JOSENotSupported) throw error;
      throw new KeysUnavailable();
    }
  };
};

export const makeTokenVerifier = (config: OAuthResourceConfig): TokenVerifier => {
  let keys: Promise<jose.JWTVerifyGetKey> | undefined;
  const jwks = () => {
    keys ??= (config.jwksUri === undefined ? discoverJwksUri(config.issuer) : Promise.resolve(config.jwksUri)).then(remoteKeys);
    // A failed discovery is tried again by the next request, not cached.
    keys.catch(() => {
      keys = undefined;
    });
    return keys;
  };
  return {
    verify: async (token) => {
      try {
        const { payload } = await jose.jwtVerify(token, await jwks(), {
          issuer: config.issuer,
          audience: config.resource,
          algorithms: ALGORITHMS,
          typ: 'at+jwt',
          requiredClaims: ['exp'],
          clockTolerance: config.clockToleranceSeconds ?? 5,
        });
        return { ok: true, claims: payload };
      } catch (error) {
        // Only the keys being out of reach is not the token's fault; jose's errors are never passed on.
        const unavailable = error instanceof KeysUnavailable || (error instanceof Error && !(error instanceof jose.errors.JOSEError));
        return { ok: false, reason: unavailable ? 'unavailable' : 'invalid' };
      }
    },
  };
};
