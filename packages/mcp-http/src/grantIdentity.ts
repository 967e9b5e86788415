// The caller of an HTTP request is the user its verified access token names (fhirUser or sub), so
// `caller_identity` is a verified identity rather than a configured one.
import * as TE from 'fp-ts/lib/TaskEither.js';
import type { IdentityProvider } from '@hipaa-fhir-mcp/core';

/** Names the token's user; a call without a granted token has no caller (and is refused). */
export const grantIdentity: IdentityProvider = {
  identify: (call) =>
    call.access?._tag === 'Granted'
      ? TE.right({ caller: call.access.grant.user, workload: null })
      : TE.left({ _tag: 'IdentityError', reason: 'Unauthenticated' }),
};
