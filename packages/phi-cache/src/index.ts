// @hipaa-fhir-mcp/phi-cache: the PhiCache port on disk, encrypted at rest. Each FHIR result is an
// AES-256-GCM entry under a local or AWS KMS data key, stored only wrapped and bound to the patient's HMAC.
export { type DataKeyReuseLimits, reusingDataKeys } from './dataKeyReuse.js';
export {
  DataKeyRefused,
  type DataKeySource,
  type EntryAddress,
  localDataKeySource,
  type Opened,
  openEntry,
  patientContext,
  sealEntry,
} from './envelope.js';
export { type FileCacheStore, type FileCacheStoreConfig, makeFileCacheStore, purgeCacheDirectory } from './fileCacheStore.js';
export { kmsDataKeySource } from './kmsDataKeySource.js';
export { type EncryptedPhiCacheConfig, makeEncryptedPhiCache, type PhiCacheWarning } from './phiCache.js';
