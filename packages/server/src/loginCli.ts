// `hipaa-fhir-mcp login`: signs a user in to the FHIR server (SMART standalone launch, PKCE) for the
// stdio server to read as; the refresh token and verified fhirUser are kept encrypted (loginStore.ts).
import type { Writable } from 'node:stream';
import * as E from 'fp-ts/lib/Either.js';
import { callerIdentityFromClaims } from '@hipaa-fhir-mcp/core';
import { DEFAULT_LOGIN_SCOPES, decodeConfig } from './config.js';
import { loadHmacKey } from './keys.js';
import { sealLogin, withLoginLock, writeLoginFile } from './loginStore.js';

export const runLoginCli = async (
  argv: readonly string[],
  io: { readonly stderr: Pick<Writable, 'write'>; readonly env: NodeJS.ProcessEnv; readonly signInTimeoutMs?: number },
): Promise<number> => {
  const fail = (text: string, code = 1): number => {
    io.stderr.write(`login: ${text}\n`);
    return code;
  };
  if (argv.length > 0) return fail("usage: hipaa-fhir-mcp login   (with the server's own settings: FHIR_BASE_URL, FHIR_AUTH=smart-user, SMART_CLIENT_ID, the audit key)", 2);
  const config = decodeConfig(io.env);
  if (E.isLeft(config)) return fail(config.left.map((p) => `${p.variable}: ${p.problem}`).join('\n       '), 2);
  const { fhir, keySource } = config.right;
  if (fhir.kind !== 'http' || fhir.auth.kind !== 'smart-user') return fail('needs FHIR_BASE_URL and FHIR_AUTH=smart-user (with SMART_CLIENT_ID).', 2);
  const key = await loadHmacKey(keySource);
  if (E.isLeft(key)) return fail(`${key.left.variable}: ${key.left.problem}`, 2);

  const { loginWithSmart } = await import('@hipaa-fhir-mcp/fhir-http');
  const signInTimeoutMs = io.signInTimeoutMs ?? 300_000;
  const login = await loginWithSmart({
    baseUrl: fhir.baseUrl,
    clientId: fhir.auth.clientId,
    scopes: fhir.auth.scopes ?? DEFAULT_LOGIN_SCOPES,
    timeoutMs: fhir.timeoutMs,
    signInTimeoutMs,
    tell: (url) => io.stderr.write(`Open this address in a browser and sign in (within ${Math.round(signInTimeoutMs / 1000)} s):\n${url}\n`),
  });
  if (E.isLeft(login)) return fail(login.left);
  const { refreshToken, tokenEndpoint, sub, fhirUser, patientFacing } = login.right;
  const { loginFile } = fhir.auth;
  const sealed = sealLogin(key.right, fhir.baseUrl, { clientId: fhir.auth.clientId, tokenEndpoint, patientFacing, fhirUser, sub, refreshToken });
  await withLoginLock(loginFile, () => writeLoginFile(loginFile, sealed));
  // Named as the audit records will name the caller: a patient only by an HMAC.
  io.stderr.write(`Signed in as ${callerIdentityFromClaims({ fhirUser, sub }, key.right, { patientFacing }) ?? 'an unnamed user'}; the login is kept encrypted in SMART_LOGIN_FILE.\n`);
  return 0;
};
