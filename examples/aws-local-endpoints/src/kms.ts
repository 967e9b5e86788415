// A local KMS for tests (JSON protocol: Encrypt, Decrypt, GenerateDataKey) holding one key. Ciphertexts are
// AES-256-GCM under a per-endpoint master key with the EncryptionContext bound as AAD, so a decrypt
// under another context fails with InvalidCiphertextException, as KMS documents.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AwsError, startSigV4Endpoint, type SigV4Endpoint, type TestCredentials } from './sigv4Endpoint.js';

export const TEST_KMS_KEY_ID = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

// KMS requires an exact, case-sensitive match of all keys and values; only pair order may vary.
const canonicalContext = (context: unknown): Buffer => {
  const pairs = Object.entries((context ?? {}) as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(pairs), 'utf8');
};

export const startLocalKms = async (credentials: TestCredentials, region = 'us-east-1'): Promise<SigV4Endpoint> => {
  const master = randomBytes(32);
  const encrypt = (plaintext: Buffer, context: unknown): string => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', master, iv).setAAD(canonicalContext(context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
  };
  return startSigV4Endpoint({
    service: 'kms',
    region,
    credentials,
    handlers: {
      Encrypt: (body) => ({ KeyId: TEST_KMS_KEY_ID, CiphertextBlob: encrypt(Buffer.from(String(body.Plaintext), 'base64'), body.EncryptionContext), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }),
      GenerateDataKey: (body) => {
        if (body.KeyId !== TEST_KMS_KEY_ID) throw new AwsError('NotFoundException', 'Key not found');
        const bytes = body.NumberOfBytes ?? (body.KeySpec === 'AES_128' ? 16 : 32);
        const plaintext = randomBytes(Number(bytes));
        return { KeyId: TEST_KMS_KEY_ID, Plaintext: plaintext.toString('base64'), CiphertextBlob: encrypt(plaintext, body.EncryptionContext) };
      },
      Decrypt: (body) => {
        // Naming a KeyId is optional; when named, it must be the key the ciphertext was made under.
        if (body.KeyId !== undefined && body.KeyId !== TEST_KMS_KEY_ID) throw new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
        try {
          const blob = Buffer.from(String(body.CiphertextBlob), 'base64');
          const decipher = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12)).setAAD(canonicalContext(body.EncryptionContext));
          decipher.setAuthTag(blob.subarray(12, 28));
          const plaintext = Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]);
          return { KeyId: TEST_KMS_KEY_ID, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
        } catch {
          throw new AwsError('InvalidCiphertextException', '');
        }
      },
    },
  });
};
