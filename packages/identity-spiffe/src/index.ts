// @hipaa-fhir-mcp/identity-spiffe — the server's own workload identity: its SPIFFE ID, from an
// X.509-SVID verified against the trust bundle, kept fresh from spiffe-helper's files or the Workload API.
export { parseSpiffeId, type SpiffeId } from './spiffeId.js';
export { type SvidProblem, type SvidVerdict, verifyX509Svid } from './verifyX509Svid.js';
export type { WorkloadIdentitySource } from './heldIdentity.js';
export { type SvidFilesConfig, watchSvidFiles } from './watchSvidFiles.js';
export { type WorkloadApiConfig, workloadApiSource } from './workloadApiSource.js';
export { withWorkloadIdentity } from './spiffeIdentity.js';
