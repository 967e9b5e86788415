// @hipaa-fhir-mcp/fhir-healthlake: FhirRepository for AWS HealthLake, built on fhir-http with SigV4.
export { HEALTHLAKE_MAX_COUNT, type HealthLakeConfig, healthLakeEndpoint, healthLakeSigV4Auth, makeHealthLakeFhirRepository } from './healthLakeFhirRepository.js';
