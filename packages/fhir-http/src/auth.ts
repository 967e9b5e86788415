// How requests to the FHIR server are authorised: none, a fixed bearer token, or SMART Backend
// Services. The Authorization header is only ever sent to the configured FHIR origin.
import * as E from 'fp-ts/lib/Either.js';
import type { FhirError } from '@hipaa-fhir-mcp/core';

export interface FhirAuth {
  /** The Authorization header value for the next request, or undefined to send none. */
  readonly authorization: () => Promise<E.Either<FhirError, string | undefined>>;
  /** Told after a 401, so that a cached token is dropped and fetched again once. */
  readonly invalidate: () => void;
  /** Whether a 401 is worth one retry with a fresh credential. */
  readonly renewable: boolean;
}

export const noAuth: FhirAuth = { authorization: async () => E.right(undefined), invalidate: () => undefined, renewable: false };

export const bearerAuth = (token: string): FhirAuth => ({
  authorization: async () => E.right(`Bearer ${token}`),
  invalidate: () => undefined,
  renewable: false,
});
