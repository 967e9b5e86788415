// FhirRepository for an AWS HealthLake data store: fhir-http's queries, paging, checks and error
// mapping, with every request signed with SigV4 (service `healthlake`) — for the data store's own
// host only. Credentials come from the AWS default provider chain, refreshed as they expire.
import type { AwsCredentialIdentity, Provider } from '@smithy/types';
import * as E from 'fp-ts/lib/Either.js';
import { fhirError, type FhirRepository } from '@hipaa-fhir-mcp/core';
import { type FhirAuth, makeHttpFhirRepository } from '@hipaa-fhir-mcp/fhir-http';

export interface HealthLakeConfig {
  /** The data store's FHIR endpoint, `https://healthlake.<region>.amazonaws.com/datastore/<id>/r4/`. */
  readonly endpoint: string;
  readonly region: string;
  /** Default: the AWS default credential provider chain. */
  readonly credentials?: AwsCredentialIdentity | Provider<AwsCredentialIdentity>;
  readonly timeoutMs?: number;
}

/** HealthLake answers at most 100 entries a page. */
export const HEALTHLAKE_MAX_COUNT = 100;

/** The endpoint of a data store, from its region and id. */
export const healthLakeEndpoint = (region: string, datastoreId: string): string =>
  `https://healthlake.${region}.amazonaws.com/datastore/${datastoreId}/r4/`;

/** SigV4 for GETs to `host` only: anything else is refused unsigned, so no signature leaves for another host. */
export const healthLakeSigV4Auth = async (config: HealthLakeConfig): Promise<FhirAuth> => {
  // Imported here, not at the top: a bundle holding this module loads no AWS code until HealthLake is chosen.
  const [{ SignatureV4 }, { Sha256 }, { HttpRequest }] = await Promise.all([
    import('@smithy/signature-v4'),
    import('@aws-crypto/sha256-js'),
    import('@smithy/protocol-http'),
  ]);
  const credentials = config.credentials ?? (await import('@aws-sdk/credential-providers')).fromNodeProviderChain();
  const signer = new SignatureV4({ service: 'healthlake', region: config.region, credentials, sha256: Sha256 });
  const endpoint = new URL(config.endpoint);
  return {
    renewable: false,
    invalidate: () => undefined,
    headersFor: async (url) => {
      if (url.protocol !== endpoint.protocol || url.host !== endpoint.host) return E.left(fhirError('Rejected'));
      try {
        const signed = await signer.sign(
          new HttpRequest({
            method: 'GET',
            protocol: url.protocol,
            hostname: url.hostname,
            ...(url.port === '' ? {} : { port: Number(url.port) }),
            path: url.pathname,
            query: signableQuery(url.search),
            headers: { host: url.host, accept: 'application/fhir+json' },
          }),
        );
        const { host: _host, ...headers } = signed.headers as Record<string, string>;
        return E.right(headers);
      } catch {
        return E.left(fhirError('AuthFailed')); // no credentials could be had
      }
    },
  };
};

/**
 * The query as SigV4 canonicalises it: every name kept with all its values (a server's next link may
 * repeat one), each decoded once, and `+` left a plus (it is a space only in HTML forms).
 */
const signableQuery = (search: string): Record<string, string | string[]> => {
  const query: Record<string, string | string[]> = {};
  for (const pair of search.slice(1).split('&')) {
    if (pair === '') continue;
    const at = pair.includes('=') ? pair.indexOf('=') : pair.length;
    const name = decodeURIComponent(pair.slice(0, at));
    const value = decodeURIComponent(pair.slice(at + 1));
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return query;
};

/** A FhirRepository on a HealthLake data store. */
export const makeHealthLakeFhirRepository = async (config: HealthLakeConfig): Promise<FhirRepository> =>
  makeHttpFhirRepository({
    baseUrl: config.endpoint,
    auth: await healthLakeSigV4Auth(config),
    pageSize: HEALTHLAKE_MAX_COUNT,
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
  });
