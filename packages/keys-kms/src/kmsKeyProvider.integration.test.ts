// The real AWS SDK v3 KMS client against a local KMS that verifies every request's SigV4 signature.
import { createHmac } from 'node:crypto';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacKeyId, hmacPatientId } from '@hipaa-fhir-mcp/core';
import { AwsError, type SigV4Endpoint, startLocalKms, TEST_KMS_KEY_ID } from '@hipaa-fhir-mcp/example-aws-local-endpoints';
import { AUDIT_KEY_ENCRYPTION_CONTEXT, createKmsAuditKey, KmsKeyError, makeKmsKeyProvider } from './kmsKeyProvider.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const credentials = { accessKeyId: 'AKIDTESTTESTTEST', secretAccessKey: 'test-secret-generated-for-this-run' };

describe('keys-kms against a SigV4-verifying local KMS', () => {
  let kms: SigV4Endpoint;
  let client: KMSClient;
  beforeAll(async () => {
    kms = await startLocalKms(credentials);
    client = new KMSClient(kms.clientConfig);
  });
  afterAll(async () => kms.close());

  it('creates a key as a ciphertext, decrypts it once at start, and serves it from memory', async () => {
    const ciphertext = await createKmsAuditKey({ kms: client, kmsKeyId: TEST_KMS_KEY_ID });
    const before = kms.calls.length;
    const provider = await makeKmsKeyProvider({ kms: client, ciphertext: Buffer.from(ciphertext, 'base64') });
    expect(provider.key.bytes).toHaveLength(32);
    expect(provider.key.id).toBe(hmacKeyId(provider.key.bytes));
    for (let i = 0; i < 3; i++) expect(await provider.hmacKey()()).toStrictEqual(E.right(provider.key));
    expect(kms.calls.length - before).toBe(1); // one Decrypt, at start
    // The key works as any other: the HMAC equals node:crypto's under the same bytes.
    expect(hmacPatientId(provider.key, 'p-1')).toBe(createHmac('sha256', provider.key.bytes).update('p-1').digest('hex'));

    // Pinned to the key it was made under, it decrypts; pinned to another, KMS refuses it.
    const pinned = await makeKmsKeyProvider({ kms: client, ciphertext: Buffer.from(ciphertext, 'base64'), kmsKeyId: TEST_KMS_KEY_ID });
    expect(pinned.key).toStrictEqual(provider.key);
    expect(kms.calls.at(-1)?.body.KeyId).toBe(TEST_KMS_KEY_ID);
    await expect(makeKmsKeyProvider({ kms: client, ciphertext: Buffer.from(ciphertext, 'base64'), kmsKeyId: 'alias/some-other-key' })).rejects.toThrow(
      /KMS refused to decrypt the audit key ciphertext \(IncorrectKeyException\): it was made under another KMS key/,
    );
  });

  it('sent only valid signatures, and an encryption context that names the purpose and nothing else', () => {
    expect(kms.calls.length).toBeGreaterThan(1);
    expect(kms.calls.every((c) => c.signatureValid)).toBe(true);
    for (const call of kms.calls) expect(call.body.EncryptionContext).toStrictEqual(AUDIT_KEY_ENCRYPTION_CONTEXT);
    expect(kms.calls.map((c) => c.target)).toStrictEqual(['TrentService.GenerateDataKey', 'TrentService.Decrypt', 'TrentService.Decrypt', 'TrentService.Decrypt']);
  });

  it('refuses a ciphertext made for another purpose, with a clear error and no key material', async () => {
    const { CiphertextBlob } = await client.send(
      new EncryptCommand({ KeyId: TEST_KMS_KEY_ID, Plaintext: new Uint8Array(32).fill(1), EncryptionContext: { purpose: 'something-else' } }),
    );
    const attempt = makeKmsKeyProvider({ kms: client, ciphertext: CiphertextBlob as Uint8Array });
    await expect(attempt).rejects.toThrow(KmsKeyError);
    await expect(attempt).rejects.toThrow(/InvalidCiphertextException/);
  });

  it('refuses a key that is too short, and reports KMS failures by their error type', async () => {
    const { CiphertextBlob } = await client.send(
      new EncryptCommand({ KeyId: TEST_KMS_KEY_ID, Plaintext: new Uint8Array(16).fill(1), EncryptionContext: { ...AUDIT_KEY_ENCRYPTION_CONTEXT } }),
    );
    await expect(makeKmsKeyProvider({ kms: client, ciphertext: CiphertextBlob as Uint8Array })).rejects.toThrow(/shorter than 32 bytes/);

    kms.failWith = new AwsError('ThrottlingException', 'Rate exceeded');
    await expect(createKmsAuditKey({ kms: client, kmsKeyId: TEST_KMS_KEY_ID })).rejects.toThrow(/ThrottlingException/);
    kms.failWith = new AwsError('ExpiredTokenException', 'The security token included in the request is expired');
    await expect(makeKmsKeyProvider({ kms: client, ciphertext: new Uint8Array(64) })).rejects.toThrow(/could not decrypt the audit key ciphertext \(ExpiredTokenException\)/);
    kms.failWith = undefined;

    const wrongSecret = new KMSClient({ ...kms.clientConfig, credentials: { ...credentials, secretAccessKey: 'wrong' } });
    await expect(createKmsAuditKey({ kms: wrongSecret, kmsKeyId: TEST_KMS_KEY_ID })).rejects.toThrow(/InvalidSignatureException/);
    expect(kms.calls.at(-1)?.signatureValid).toBe(false);
  });
});
