// @hipaa-fhir-mcp/phi-cache: envelope encryption for cached PHI, bound to the patient's HMAC, with
// local or KMS data keys and bounded data-key reuse. The cache store and its wiring build on these
// (issue 7, in progress).
export { type DataKeyReuseLimits, reusingDataKeys } from './dataKeyReuse.js';
export { type DataKeySource, type EntryAddress, localDataKeySource, openEntry, patientContext, sealEntry } from './envelope.js';
export { type FileCacheStore, type FileCacheStoreConfig, makeFileCacheStore } from './fileCacheStore.js';
export { kmsDataKeySource } from './kmsDataKeySource.js';
