// @hipaa-fhir-mcp/core: the domain, the ports and the audited use cases, with no I/O of its own.
// Embed it in any Node service by supplying adapters for the ports (see examples/embed-in-service).
export * from './AuditChain.js';
export * from './AuditRecord.js';
export * from './audited.js';
export * from './CallContext.js';
export * from './errors.js';
export * from './inputs.js';
export * from './LoincCode.js';
export * from './minimumNecessary.js';
export { parsePatientId, PatientId, samePatient } from './PatientId.js';
export * from './access.js';
export * from './PatientIdHmac.js';
export type * from './ports.js';
export * from './readThrough.js';
export * from './useCases.js';
