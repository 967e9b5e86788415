// parseSpiffeId takes exactly what the SPIFFE-ID standard allows: the spec's own examples pass, and
// every looser URI form (case, port, userinfo, query, dot segments, encoding, length) is refused.
import { describe, expect, it } from 'vitest';
import { hasPath, parseSpiffeId, trustDomainOf } from './spiffeId.js';

const TRUST_DOMAIN_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789.-_';
const PATH_CHARS = `${TRUST_DOMAIN_CHARS}ABCDEFGHIJKLMNOPQRSTUVWXYZ`;

describe('parseSpiffeId', () => {
  it.each([
    'spiffe://example.org/hipaa-fhir-mcp',
    'spiffe://staging.example.com/payments/mysql',
    'spiffe://k8s-west.example.com/ns/staging/sa/default',
    'spiffe://example.com/9eebccd2-12bf-40a6-b262-65fe0487d453',
    'spiffe://example.org/Case/Sensitive_Path.v1',
    'spiffe://td_1-2.internal/a/b.c/..d/.e',
    'spiffe://example.org',
  ])('accepts %s, unchanged', (text) => {
    expect(parseSpiffeId(text)).toBe(text);
  });

  it.each([
    ['empty', ''],
    ['no trust domain', 'spiffe://'],
    ['empty trust domain', 'spiffe:///workload'],
    ['upper-case scheme', 'SPIFFE://example.org/workload'],
    ['no authority', 'spiffe:example.org/workload'],
    ['another scheme', 'https://example.org/workload'],
    ['upper-case trust domain', 'spiffe://Example.org/workload'],
    ['a port', 'spiffe://example.org:8443/workload'],
    ['userinfo', 'spiffe://user@example.org/workload'],
    ['a query', 'spiffe://example.org/workload?x=1'],
    ['a fragment', 'spiffe://example.org/workload#x'],
    ['a trailing slash', 'spiffe://example.org/workload/'],
    ['a bare trailing slash', 'spiffe://example.org/'],
    ['an empty segment', 'spiffe://example.org//workload'],
    ['a dot segment', 'spiffe://example.org/./workload'],
    ['a dot-dot segment', 'spiffe://example.org/a/../workload'],
    ['a final dot-dot segment', 'spiffe://example.org/a/..'],
    ['percent-encoding', 'spiffe://example.org/work%20load'],
    ['non-ASCII', 'spiffe://example.org/caf\u00e9'],
    ['whitespace', ' spiffe://example.org/workload'],
    ['an IPv6-style host', 'spiffe://[::1]/workload'],
  ])('refuses %s', (_, text) => {
    expect(parseSpiffeId(text)).toBeUndefined();
  });

  it('allows each ASCII character in a trust domain or a path segment exactly as the spec does', () => {
    for (let code = 0; code < 256; code++) {
      const char = String.fromCharCode(code);
      if (char === '/') continue; // the separator, covered above
      expect(parseSpiffeId(`spiffe://a${char}b/w`) !== undefined, `trust domain with ${code}`).toBe(TRUST_DOMAIN_CHARS.includes(char));
      expect(parseSpiffeId(`spiffe://example.org/a${char}b`) !== undefined, `path with ${code}`).toBe(PATH_CHARS.includes(char));
    }
  });

  it('takes a trust domain up to 255 bytes and an ID up to 2048 bytes, and no longer', () => {
    const domain255 = `${'a'.repeat(251)}.org`;
    expect(parseSpiffeId(`spiffe://${domain255}/w`)).toBeDefined();
    expect(parseSpiffeId(`spiffe://a${domain255}/w`)).toBeUndefined();
    const prefix = 'spiffe://example.org/';
    const id2048 = prefix + 'p'.repeat(2048 - prefix.length);
    expect(id2048.length).toBe(2048);
    expect(parseSpiffeId(id2048)).toBe(id2048);
    expect(parseSpiffeId(`${id2048}p`)).toBeUndefined();
  });

  it('names the trust domain, and tells a workload ID from a trust domain ID', () => {
    const workload = parseSpiffeId('spiffe://example.org/ns/prod/sa/mcp');
    const domain = parseSpiffeId('spiffe://example.org');
    if (workload === undefined || domain === undefined) throw new Error('test IDs must parse');
    expect([trustDomainOf(workload), trustDomainOf(domain)]).toStrictEqual(['example.org', 'example.org']);
    expect([hasPath(workload), hasPath(domain)]).toStrictEqual([true, false]);
  });
});
