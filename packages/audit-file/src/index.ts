// @hipaa-fhir-mcp/audit-file: the AuditSink that appends one hash-chained JSON line per record to a
// local file, durable before it acknowledges, with signed checkpoints; and the reading side for audits.
export { type CheckpointSigner, deriveCheckpointSeed, ed25519Signer, verifyEd25519 } from './checkpointSigner.js';
export { type Checkpoint, type CheckpointBody, checkpointMessage, type ReadCheckpoint, readCheckpoints } from './checkpoints.js';
export { AuditFileError, type FileAuditSink, type FileAuditSinkConfig, makeFileAuditSink } from './fileAuditSink.js';
export { segmentName, streamFiles, streamSegments } from './segments.js';
