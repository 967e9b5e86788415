// The SMART user's login at rest: the refresh token and the verified fhirUser, AES-256-GCM under a key
// derived from the KeyProvider's key, bound to the FHIR server, in a 0600 file written atomically.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HmacKey } from '@hipaa-fhir-mcp/core';

export interface SmartLogin {
  readonly clientId: string;
  /** As the id token named it, verified at login, e.g. `Practitioner/dr-1`; else the token's `sub`. */
  readonly fhirUser: string | undefined;
  readonly sub: string;
  readonly refreshToken: string;
}

const MAGIC = Buffer.from('HFL1', 'ascii');

const loginKey = (key: HmacKey): Buffer => Buffer.from(hkdfSync('sha256', key.bytes, new Uint8Array(0), 'hipaa-fhir-mcp smart login v1', 32));
const aad = (fhirBaseUrl: string): Buffer => Buffer.concat([MAGIC, Buffer.from(`fhir=${fhirBaseUrl}`, 'utf8')]);

export const sealLogin = (key: HmacKey, fhirBaseUrl: string, login: SmartLogin): Buffer => {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', loginKey(key), iv).setAAD(aad(fhirBaseUrl));
  const sealed = Buffer.concat([cipher.update(JSON.stringify(login), 'utf8'), cipher.final()]);
  return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), sealed]);
};

/** The login, or undefined if the bytes were not sealed by this key for this FHIR server, or were changed. */
export const openLogin = (key: HmacKey, fhirBaseUrl: string, bytes: Buffer): SmartLogin | undefined => {
  if (bytes.length < MAGIC.length + 28 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', loginKey(key), bytes.subarray(4, 16)).setAAD(aad(fhirBaseUrl));
    decipher.setAuthTag(bytes.subarray(16, 32));
    const login = JSON.parse(Buffer.concat([decipher.update(bytes.subarray(32)), decipher.final()]).toString('utf8')) as SmartLogin;
    return typeof login.refreshToken === 'string' && typeof login.clientId === 'string' && typeof login.sub === 'string' ? login : undefined;
  } catch {
    return undefined;
  }
};

export const writeLoginFile = async (path: string, sealed: Buffer): Promise<void> => {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(temporary, 'wx', 0o600);
  try {
    await file.writeFile(sealed);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
};

export const readLoginFile = (path: string): Promise<Buffer | undefined> => readFile(path).catch(() => undefined);
