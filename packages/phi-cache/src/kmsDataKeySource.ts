// Data keys from AWS KMS: GenerateDataKey and Decrypt under the EncryptionContext
// {patient_id_hmac: <hmac>}, so CloudTrail's KMS log, the cache and the audit trail line up per patient
// by the HMAC alone, and a key unwrapped for the wrong patient fails inside KMS.
import type { KMSClient } from '@aws-sdk/client-kms';
import type { PatientIdHmac } from '@hipaa-fhir-mcp/core';
import { DataKeyRefused, type DataKeySource, useThenWipe } from './envelope.js';

const contextOf = (patient: PatientIdHmac): Record<string, string> => ({ patient_id_hmac: patient });

const using = <T>(key: Uint8Array | undefined, use: (key: Uint8Array) => T): T => {
  if (key === undefined || key.length !== 32) {
    key?.fill(0);
    throw new Error('KMS returned no 32-byte data key');
  }
  return useThenWipe(key, use);
};

export const kmsDataKeySource = async (config: { readonly kms: KMSClient; readonly kmsKeyId: string }): Promise<DataKeySource> => {
  const { DecryptCommand, GenerateDataKeyCommand } = await import('@aws-sdk/client-kms');
  return {
    withNewDataKey: async (patient, use) => {
      const { Plaintext, CiphertextBlob } = await config.kms.send(new GenerateDataKeyCommand({ KeyId: config.kmsKeyId, KeySpec: 'AES_256', EncryptionContext: contextOf(patient) }));
      if (CiphertextBlob === undefined) {
        Plaintext?.fill(0);
        throw new Error('KMS returned no wrapped data key');
      }
      return using(Plaintext, (key) => use(key, CiphertextBlob));
    },
    withDataKey: async (wrapped, patient, use) => {
      const decrypted = await config.kms
        .send(new DecryptCommand({ CiphertextBlob: wrapped, KeyId: config.kmsKeyId, EncryptionContext: contextOf(patient) }))
        .catch((error: unknown) => {
          // KMS's own refusals of this ciphertext (wrong context, another key, not a ciphertext), as
          // opposed to throttling or an outage, which leave the entry as it is.
          const name = (error as { name?: unknown } | null)?.name;
          throw name === 'InvalidCiphertextException' || name === 'IncorrectKeyException' ? new DataKeyRefused() : error;
        });
      return using(decrypted.Plaintext, use);
    },
  };
};
