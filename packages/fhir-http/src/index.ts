// @hipaa-fhir-mcp/fhir-http: FhirRepository over any FHIR R4 REST server, with checked answers,
// and its authorisation: none, a bearer token, or SMART Backend Services.
export { bearerAuth, type FhirAuth, noAuth } from './auth.js';
export { type HttpFhirRepositoryConfig, makeHttpFhirRepository } from './httpFhirRepository.js';
export { DEFAULT_SMART_SCOPES, type SmartBackendConfig, smartBackendAuth, SmartKeyError } from './smartBackendAuth.js';
