// The IdentityProvider adapter for SPIFFE: each call's identities are the caller another provider
// names and this server's SPIFFE ID, verified now; with no valid SVID, calls fail closed.
import * as E from 'fp-ts/lib/Either.js';
import { pipe } from 'fp-ts/lib/function.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { type Identities, type IdentityError, type IdentityProvider, WorkloadIdentity } from '@hipaa-fhir-mcp/core';
import type { WorkloadIdentitySource } from './heldIdentity.js';

const unavailable: IdentityError = { _tag: 'IdentityError', reason: 'Unavailable' };

/** `caller`'s identities, with the workload taken from `source` at each call. */
export const withWorkloadIdentity = (caller: IdentityProvider, source: WorkloadIdentitySource): IdentityProvider => ({
  identify: (call) =>
    pipe(
      caller.identify(call),
      TE.chain((identities): TE.TaskEither<IdentityError, Identities> => {
        const workload = WorkloadIdentity.decode(source.current());
        // No valid SVID (expired, a refused rotation, closed): the call is refused as identity_unavailable.
        return E.isRight(workload) ? TE.right({ ...identities, workload: workload.right }) : TE.left(unavailable);
      }),
    ),
});
