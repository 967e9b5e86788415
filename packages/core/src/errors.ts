// Errors as plain tagged objects. Domain errors never carry an input value, an upstream message
// or a cause: they cross to the audit log and to the MCP host, both of which persist what they get.

/** The tool arguments a caller may send; an error names the field, never its value. */
export type InputField = 'patient_id' | 'code' | 'arguments';

export type DomainError =
  | { readonly _tag: 'InvalidInput'; readonly field: InputField }
  | { readonly _tag: 'PatientNotFound' }
  | { readonly _tag: 'FhirUnavailable'; readonly retryable: boolean }
  | { readonly _tag: 'FhirTimeout' }
  | { readonly _tag: 'FhirInvalidResponse' }
  | { readonly _tag: 'FhirAuthFailed' }
  | { readonly _tag: 'FhirRejected' }
  | { readonly _tag: 'AuditUnavailable' }
  | { readonly _tag: 'KeyUnavailable' }
  | { readonly _tag: 'IdentityUnavailable' }
  | { readonly _tag: 'InternalError' }
  | { readonly _tag: 'AccessDenied'; readonly reason: AccessDenialReason };

/** Why access control refused a call; each is also the record's `error_code`. */
export type AccessDenialReason = 'invalid_token' | 'insufficient_scope' | 'patient_not_in_context';

export const invalidInput = (field: InputField): DomainError => ({ _tag: 'InvalidInput', field });
export const patientNotFound: DomainError = { _tag: 'PatientNotFound' };
export const fhirUnavailable = (retryable: boolean): DomainError => ({ _tag: 'FhirUnavailable', retryable });
export const fhirTimeout: DomainError = { _tag: 'FhirTimeout' };
export const fhirInvalidResponse: DomainError = { _tag: 'FhirInvalidResponse' };
export const fhirAuthFailed: DomainError = { _tag: 'FhirAuthFailed' };
export const fhirRejected: DomainError = { _tag: 'FhirRejected' };
export const auditUnavailable: DomainError = { _tag: 'AuditUnavailable' };
export const keyUnavailable: DomainError = { _tag: 'KeyUnavailable' };
export const identityUnavailable: DomainError = { _tag: 'IdentityUnavailable' };
export const internalError: DomainError = { _tag: 'InternalError' };
export const accessDenied = (reason: AccessDenialReason): DomainError => ({ _tag: 'AccessDenied', reason });

/** Exhaustive fold over DomainError; adding a tag is a compile error until every caller handles it. */
export const matchDomainError =
  <R>(cases: { readonly [K in DomainError['_tag']]: (e: Extract<DomainError, { _tag: K }>) => R }) =>
  (e: DomainError): R =>
    (cases[e._tag] as (e: DomainError) => R)(e);

/** Failure of a FhirRepository. `reason` is a closed set; there is deliberately no message field. */
export interface FhirError {
  readonly _tag: 'FhirError';
  readonly reason: 'NotFound' | 'Unavailable' | 'Timeout' | 'InvalidResponse' | 'AuthFailed' | 'Rejected';
  readonly retryable: boolean;
}

/** Failure of an AuditSink: the record is not known to be durable. */
export interface AuditError {
  readonly _tag: 'AuditError';
  readonly reason: 'WriteFailed' | 'Closed' | 'Rejected';
  readonly retryable: boolean;
}

/** Failure of a KeyProvider to produce the HMAC key. */
export interface KeyError {
  readonly _tag: 'KeyError';
  readonly reason: 'Unavailable';
}

/** Failure of an IdentityProvider to name the caller. */
export interface IdentityError {
  readonly _tag: 'IdentityError';
  readonly reason: 'Unavailable' | 'Unauthenticated';
}

export const fhirError = (reason: FhirError['reason'], retryable = false): FhirError => ({
  _tag: 'FhirError',
  reason,
  retryable,
});

export const auditError = (reason: AuditError['reason'], retryable = false): AuditError => ({
  _tag: 'AuditError',
  reason,
  retryable,
});

/** How a use case sees a repository failure. */
export const fromFhirError = (e: FhirError): DomainError => {
  switch (e.reason) {
    case 'NotFound':
      return patientNotFound;
    case 'Unavailable':
      return fhirUnavailable(e.retryable);
    case 'Timeout':
      return fhirTimeout;
    case 'InvalidResponse':
      return fhirInvalidResponse;
    case 'AuthFailed':
      return fhirAuthFailed;
    case 'Rejected':
      return fhirRejected;
  }
};
