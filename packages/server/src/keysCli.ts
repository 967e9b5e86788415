// `hipaa-fhir-mcp keys create --kms-key-id KEY`: a new audit HMAC key, generated inside KMS and printed
// only as its ciphertext (base64), for AUDIT_HMAC_KEY_CIPHERTEXT. The plaintext never leaves memory.
import type { Writable } from 'node:stream';
import { loadKmsModules } from './keys.js';

const USAGE = 'usage: hipaa-fhir-mcp keys create [--kms-key-id <KMS key id, ARN or alias>] (default: KMS_KEY_ID; AWS_REGION and credentials as for the AWS CLI)\n';

export const runKeysCli = async (argv: readonly string[], io: { stdout: Pick<Writable, 'write'>; stderr: Pick<Writable, 'write'> }): Promise<number> => {
  const at = argv.indexOf('--kms-key-id');
  const kmsKeyId = at === -1 ? (process.env.KMS_KEY_ID === '' ? undefined : process.env.KMS_KEY_ID) : argv[at + 1];
  if (argv[0] !== 'create' || kmsKeyId === undefined || kmsKeyId.startsWith('-')) {
    io.stderr.write(USAGE);
    return 2;
  }
  const kms = await loadKmsModules();
  if (kms === undefined) {
    io.stderr.write('keys create needs the AWS SDK KMS client beside the server: npm install @aws-sdk/client-kms\n');
    return 2;
  }
  const [{ KMSClient }, { createKmsAuditKey, KmsKeyError }] = kms;
  try {
    io.stdout.write(`${await createKmsAuditKey({ kms: new KMSClient({}), kmsKeyId })}\n`);
    io.stderr.write('Set this as AUDIT_HMAC_KEY_CIPHERTEXT (or in a file for AUDIT_HMAC_KEY_CIPHERTEXT_FILE), with KEY_PROVIDER=kms.\n');
    return 0;
  } catch (error) {
    io.stderr.write(`${error instanceof KmsKeyError ? error.message : `KMS is not reachable or not configured (${(error as Error)?.name ?? 'error'}).`}\n`);
    return 1;
  }
};
