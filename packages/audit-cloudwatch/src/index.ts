// @hipaa-fhir-mcp/audit-cloudwatch: the AuditSink on AWS CloudWatch Logs.
export { CloudWatchAuditError, type CloudWatchAuditSink, type CloudWatchAuditSinkConfig, makeCloudWatchAuditSink } from './cloudWatchAuditSink.js';
