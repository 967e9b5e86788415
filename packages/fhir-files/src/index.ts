// @hipaa-fhir-mcp/fhir-files: the embedded default FhirRepository, over FHIR Bundle files or
// Bundles in memory, answering exactly as a FHIR server would for the three queries.
export { indexBundles, makeBundleFhirRepository, resolveBundleReferences } from './bundleIndex.js';
export { embeddedDataDir, type FilesFhirRepositoryConfig, makeFilesFhirRepository } from './filesFhirRepository.js';
