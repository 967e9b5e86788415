// @hipaa-fhir-mcp/core/testing: in-memory adapters, the contract dataset and the contract suites.
// Test-only: the suites import vitest, which is an optional peer dependency of the core.
export * from './contractDataset.js';
export * from './contracts.js';
export * from './memoryAdapters.js';
