// SPIFFE IDs as the SPIFFE-ID standard allows them, and nothing looser: a URI parser would accept
// ports, userinfo, percent-encoding, `..` segments and upper-case hosts, each a way to forge a match.
// See: https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md

interface SpiffeIdBrand {
  readonly SpiffeId: unique symbol;
}

/**
 * A SPIFFE ID as the spec allows it: `spiffe://<trust-domain>/<path>`, the trust domain lower-case
 * `[a-z0-9._-]` and at most 255 bytes, path segments `[a-zA-Z0-9._-]` with no empty, `.` or `..`
 * segment and no trailing slash, no query, fragment, port or userinfo, at most 2048 bytes in all.
 * Made only by {@link parseSpiffeId}, so holding one means it was checked.
 */
export type SpiffeId = string & SpiffeIdBrand;

const SCHEME = 'spiffe://';
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN_BYTES = 255;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const PATH_SEGMENT = /^[a-zA-Z0-9._-]+$/;

/** Checks a trust domain name (`example.org`, not `spiffe://example.org`). */
export const isTrustDomainName = (name: string): boolean => name.length <= MAX_TRUST_DOMAIN_BYTES && TRUST_DOMAIN.test(name);

/**
 * `text` as a SPIFFE ID, or undefined when the spec does not allow it. The scheme is matched
 * case-sensitively, as go-spiffe does: `SPIFFE://` is refused. An ID without a path (a trust
 * domain's own ID) is allowed here; an X.509-SVID leaf needs a path, which verifyX509Svid checks.
 * All allowed characters are ASCII, so the string's length is its length in bytes.
 */
export const parseSpiffeId = (text: string): SpiffeId | undefined => {
  if (text.length > MAX_ID_BYTES || !text.startsWith(SCHEME)) return undefined;
  const rest = text.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (!isTrustDomainName(trustDomain)) return undefined;
  if (slash !== -1) {
    // A trailing slash shows up as an empty last segment.
    for (const segment of rest.slice(slash + 1).split('/')) {
      if (segment === '.' || segment === '..' || !PATH_SEGMENT.test(segment)) return undefined;
    }
  }
  return text as SpiffeId;
};

/** The trust domain name of a checked SPIFFE ID. */
export const trustDomainOf = (id: SpiffeId): string => {
  const rest = id.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  return slash === -1 ? rest : rest.slice(0, slash);
};

/** Whether the ID names a workload (has a path), as an X.509-SVID leaf must. */
export const hasPath = (id: SpiffeId): boolean => id.indexOf('/', SCHEME.length) !== -1;
