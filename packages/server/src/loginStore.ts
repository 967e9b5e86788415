// The SMART user's login at rest: the refresh token and the verified fhirUser, AES-256-GCM under a key
// derived from the KeyProvider's key, bound to the FHIR server, in a 0600 file written atomically.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HmacKey } from '@hipaa-fhir-mcp/core';

export interface SmartLogin {
  readonly clientId: string;
  /** Pinned at login: the refresh token is only ever sent here. */
  readonly tokenEndpoint: string;
  /** A patient's own grant: its `sub` names a patient, so it is recorded only as an HMAC. */
  readonly patientFacing: boolean;
  /** As the id token named it, verified at login, e.g. `Practitioner/dr-1`; else the token's `sub`. */
  readonly fhirUser: string | undefined;
  readonly sub: string;
  readonly refreshToken: string;
}

const MAGIC = Buffer.from('HFL2', 'ascii');

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
    const complete = [login.refreshToken, login.clientId, login.sub, login.tokenEndpoint].every((field) => typeof field === 'string') && typeof login.patientFacing === 'boolean';
    return complete ? login : undefined;
  } catch {
    return undefined;
  }
};

export const writeLoginFile = async (path: string, sealed: Buffer): Promise<void> => {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writeFile(sealed);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
};

/**
 * Runs `use` holding the login file exclusively, across processes (a lock file made with O_EXCL and
 * holding a random owner token): two servers sharing a login must not both present one refresh
 * token, or a server with reuse detection revokes the grant. A lock older than `staleMs` (longer than
 * any refresh may take) is left over from a crash and taken; a lock is removed only by its owner.
 */
export const withLoginLock = async <T>(path: string, use: () => Promise<T>, options: { readonly waitMs?: number; readonly staleMs?: number } = {}): Promise<T> => {
  const lock = `${path}.lock`;
  const owner = randomBytes(16).toString('hex');
  const staleMs = options.staleMs ?? 300_000;
  const deadline = Date.now() + (options.waitMs ?? staleMs + 15_000);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      await handle.writeFile(owner);
      await handle.close();
      break;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
      const held = await stat(lock).catch(() => undefined);
      if (held !== undefined && Date.now() - held.mtimeMs > staleMs) await rm(lock, { force: true });
      else if (Date.now() > deadline) throw new Error('The login is held by another process.');
      else await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  try {
    return await use();
  } finally {
    if ((await readFile(lock, 'utf8').catch(() => undefined)) === owner) await rm(lock, { force: true });
  }
};

export const readLoginFile = (path: string): Promise<Buffer | undefined> => readFile(path).catch(() => undefined);
