// @hipaa-fhir-mcp/phi-cache: envelope encryption for cached PHI, bound to the patient's HMAC.
// The cache store, its TTL and the KMS data-key source build on these (issue 7, in progress).
export { type DataKeySource, localDataKeySource, openEntry, patientContext, sealEntry } from './envelope.js';
