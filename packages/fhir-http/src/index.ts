// @hipaa-fhir-mcp/fhir-http: FhirRepository over any FHIR R4 REST server, with checked answers.
export { bearerAuth, type FhirAuth, noAuth } from './auth.js';
export { type HttpFhirRepositoryConfig, makeHttpFhirRepository } from './httpFhirRepository.js';
