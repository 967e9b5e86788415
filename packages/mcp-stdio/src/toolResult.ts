// The one mapping from a use case's outcome to an MCP tool result. Error texts are fixed and carry
// only the request id: the host shows them to the model and keeps them, so they hold no input.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as E from 'fp-ts/lib/Either.js';
import { type DomainError, matchDomainError, type RequestId } from '@hipaa-fhir-mcp/core';

export const errorText: (e: DomainError) => string = matchDomainError<string>({
  InvalidInput: ({ field }) =>
    field === 'patient_id'
      ? "Invalid patient_id: expected a FHIR id of 1 to 64 characters from A-Z, a-z, 0-9, '-' and '.'."
      : field === 'code'
        ? 'Invalid code: expected a LOINC code such as 8867-4 or http://loinc.org|8867-4.'
        : "Invalid arguments: expected an object with exactly the tool's documented fields.",
  PatientNotFound: () => 'No patient with that id was found.',
  FhirUnavailable: ({ retryable }) =>
    retryable ? 'The FHIR server is unavailable. Try again shortly.' : 'The FHIR server is unavailable.',
  FhirTimeout: () => 'The FHIR server did not answer in time. Try again shortly.',
  FhirInvalidResponse: () => 'The FHIR server returned a response that could not be used.',
  FhirAuthFailed: () => 'The server could not authenticate to the FHIR server; an administrator must check its credentials.',
  FhirRejected: () => 'The FHIR server rejected the request.',
  AuditUnavailable: () =>
    'The call could not be written to the audit log, so no data was returned. Try again; if it persists, an administrator must check the audit log.',
  KeyUnavailable: () => 'The audit key is unavailable, so no data was returned.',
  IdentityUnavailable: () => 'The caller could not be identified, so no data was returned.',
  InternalError: () => 'An internal error occurred; no data was returned.',
  AccessDenied: ({ reason }) =>
    reason === 'invalid_token'
      ? 'The access token is missing, invalid or expired; no data was returned.'
      : reason === 'insufficient_scope'
        ? "The access token does not grant the SMART scopes this tool needs; no data was returned."
        : "The access token does not allow this patient (it is limited to its launch context's patient); no data was returned.",
});

/** Success: the view as structuredContent (with the request id) and the same JSON as text. */
export const toToolResult = (requestId: RequestId, outcome: E.Either<DomainError, object>): CallToolResult => {
  if (E.isLeft(outcome)) {
    return { isError: true, content: [{ type: 'text', text: `${errorText(outcome.left)} (request_id: ${requestId})` }] };
  }
  const structuredContent = { request_id: requestId, ...outcome.right };
  return { structuredContent, content: [{ type: 'text', text: JSON.stringify(structuredContent) }] };
};
