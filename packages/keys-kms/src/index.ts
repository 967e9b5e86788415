// @hipaa-fhir-mcp/keys-kms: the audit HMAC key kept as an AWS KMS ciphertext, decrypted once at start.
export { AUDIT_KEY_ENCRYPTION_CONTEXT, createKmsAuditKey, KmsKeyError, makeKmsKeyProvider } from './kmsKeyProvider.js';
