// How requests to the FHIR server are authorised: none, a fixed bearer token, or SMART Backend
// Services. The Authorization header is only ever sent to the configured FHIR origin.
import * as E from 'fp-ts/lib/Either.js';
import type { FhirError } from '@hipaa-fhir-mcp/core';

export interface FhirAuth {
  /**
   * The headers that authorise one GET of `url` (always on the configured origin): an Authorization
   * header for bearer tokens, a whole signature for AWS SigV4.
   */
  readonly headersFor: (url: URL) => Promise<E.Either<FhirError, Readonly<Record<string, string>>>>;
  /** Told after a 401, so that a cached token is dropped and fetched again once. */
  readonly invalidate: () => void;
  /** Whether a 401 is worth one retry with a fresh credential. */
  readonly renewable: boolean;
}

export const noAuth: FhirAuth = { headersFor: async () => E.right({}), invalidate: () => undefined, renewable: false };

export const bearerAuth = (token: string): FhirAuth => ({
  headersFor: async () => E.right({ authorization: `Bearer ${token}` }),
  invalidate: () => undefined,
  renewable: false,
});
