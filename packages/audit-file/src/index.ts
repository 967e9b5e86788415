// @hipaa-fhir-mcp/audit-file: the AuditSink that appends one JSON line per record to a local file,
// durable before it acknowledges, safe under concurrent calls.
export { AuditFileError, type FileAuditSink, type FileAuditSinkConfig, makeFileAuditSink } from './fileAuditSink.js';
