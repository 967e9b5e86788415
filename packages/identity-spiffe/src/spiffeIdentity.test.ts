import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { getPatient, type RequestId } from '@hipaa-fhir-mcp/core';
import { scriptedFhirRepository, staticIdentity, testDeps } from '@hipaa-fhir-mcp/core/testing';
import type { SpiffeId } from './spiffeId.js';
import { withWorkloadIdentity } from './spiffeIdentity.js';

const call = { requestId: '00000000-0000-4000-8000-000000000001' as RequestId };

describe('withWorkloadIdentity', () => {
  it("records the server's SPIFFE ID in every audit record, and refuses calls while it has no valid SVID", async () => {
    let current: SpiffeId | undefined = 'spiffe://clinic.example/ns/prod/sa/hipaa-fhir-mcp' as SpiffeId;
    const source = { current: () => current, close: async () => undefined };
    const deps = testDeps({
      identity: withWorkloadIdentity(staticIdentity('sub:clinician-1'), source),
      fhir: scriptedFhirRepository({ readPatient: () => async () => E.right({ resourceType: 'Patient', id: 'p1' }) }),
    });
    expect(E.isRight(await getPatient({ patient_id: 'p1' }, call)(deps)())).toBe(true);
    current = undefined; // expired, or a rotation refused after the last one expired
    expect(await getPatient({ patient_id: 'p1' }, call)(deps)()).toStrictEqual(E.left({ _tag: 'IdentityUnavailable' }));
    expect(deps.audit.records.map((r) => [r.status, r.error_code, r.caller_identity, r.workload_identity])).toStrictEqual([
      ['success', null, 'sub:clinician-1', 'spiffe://clinic.example/ns/prod/sa/hipaa-fhir-mcp'],
      ['error', 'identity_unavailable', null, null],
    ]);
  });
});
