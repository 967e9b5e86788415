// The KMS data-key source through the real @aws-sdk/client-kms against a SigV4-verifying local KMS:
// entries round-trip, the EncryptionContext carries the patient HMAC and nothing else, an entry opened
// as another patient's is refused inside KMS, and a KMS failure is a miss, never data.
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE_ID as aliceId, alice, at, bob, LATER, NOW, resource } from '../test/entries.js';
import { AwsError, type SigV4Endpoint, startLocalKms, TEST_KMS_KEY_ID } from '@hipaa-fhir-mcp/example-aws-local-endpoints';
import { reusingDataKeys } from './dataKeyReuse.js';
import { openEntry, sealEntry } from './envelope.js';
import { kmsDataKeySource } from './kmsDataKeySource.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const credentials = { accessKeyId: 'AKIDCACHETEST', secretAccessKey: 'cache-secret-made-for-this-test' };

let kms: SigV4Endpoint;
let client: KMSClient;
beforeAll(async () => {
  kms = await startLocalKms(credentials);
  client = new KMSClient(kms.clientConfig);
});
afterAll(async () => kms.close());

describe('kmsDataKeySource', () => {
  it('round-trips with an EncryptionContext that holds only the patient HMAC', async () => {
    const source = await kmsDataKeySource({ kms: client, kmsKeyId: TEST_KMS_KEY_ID });
    const entry = await sealEntry(source, at(alice), resource, LATER);
    expect(await openEntry(source, at(alice), entry, NOW)).toStrictEqual({ _tag: 'Opened', plaintext: resource });
    expect(kms.calls.map((c) => c.target)).toStrictEqual(['TrentService.GenerateDataKey', 'TrentService.Decrypt']);
    for (const call of kms.calls) {
      expect(call.signatureValid).toBe(true);
      expect(call.body.EncryptionContext).toStrictEqual({ patient_id_hmac: alice });
    }
    expect(JSON.stringify(kms.calls)).not.toContain(aliceId);
  });

  it("refuses, inside KMS, an entry opened as another patient's; a KMS failure is a miss", async () => {
    const source = await kmsDataKeySource({ kms: client, kmsKeyId: TEST_KMS_KEY_ID });
    const entry = await sealEntry(source, at(alice), resource, LATER);
    const before = kms.calls.length;
    expect(await openEntry(source, at(bob), entry, NOW)).toStrictEqual({ _tag: 'Rejected' });
    expect(kms.calls.slice(before).map((c) => c.target)).toStrictEqual(['TrentService.Decrypt']); // KMS said no
    kms.failWith = new AwsError('ThrottlingException', 'Rate exceeded');
    expect(await openEntry(source, at(alice), entry, NOW)).toStrictEqual({ _tag: 'KeyUnavailable' });
    await expect(sealEntry(source, at(alice), resource, LATER)).rejects.toThrow(/Rate exceeded/);
    kms.failWith = undefined;
    expect(await openEntry(source, at(alice), entry, NOW)).toStrictEqual({ _tag: 'Opened', plaintext: resource });
  });

  it('calls KMS far less with data-key reuse on', async () => {
    const source = await kmsDataKeySource({ kms: client, kmsKeyId: TEST_KMS_KEY_ID });
    const count = async (s: typeof source) => {
      const before = kms.calls.length;
      const entries: Buffer[] = [];
      for (let i = 0; i < 50; i++) entries.push(await sealEntry(s, at(alice), resource, LATER));
      for (const entry of entries) expect(await openEntry(s, at(alice), entry, NOW)).toStrictEqual({ _tag: 'Opened', plaintext: resource });
      return kms.calls.length - before;
    };
    expect(await count(source)).toBe(100);
    expect(await count(reusingDataKeys(source, { maxAgeMs: 300_000, maxUses: 1_000 }))).toBe(1); // the held sealing key opens its entries
  });
});
