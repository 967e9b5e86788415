// SMART on FHIR access control at the tool layer: the scopes each tool needs, and the one patient a
// token with a launch context may read. Pure rules; the audit combinator applies them to every call.
import * as E from 'fp-ts/lib/Either.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { CallerIdentity, type ToolName } from './AuditRecord.js';
import { type AccessDenialReason, accessDenied, type DomainError } from './errors.js';
import { PatientId, samePatient } from './PatientId.js';
import { type HmacKey, hmacPatientId } from './PatientIdHmac.js';

/** What a verified access token allows. */
export interface AccessGrant {
  /** The granted scopes, SMART v1 or v2, e.g. `patient/Observation.rs`, `user/Patient.read`. */
  readonly scopes: readonly string[];
  /** The token's SMART launch-context patient; `patient/` scopes grant this patient only. */
  readonly patient: PatientId | undefined;
  /** Who the token names (see `callerIdentityFromClaims`). */
  readonly user: CallerIdentity;
}

/**
 * How a transport with per-user authorization describes a call. Absent from a call: the transport
 * trusts whoever can reach it (stdio, spawned by the host), and no scope applies.
 */
export type CallAccess =
  | { readonly _tag: 'Granted'; readonly grant: AccessGrant }
  | { readonly _tag: 'InvalidToken' }
  /** The token could not be checked (the authorization server's keys were unreachable). */
  | { readonly _tag: 'Unverifiable' };

type Permission = 'r' | 's';

/** What each tool reads: a Patient by id, Observations and MedicationRequests by search, Medications by include. */
const TOOL_NEEDS: { readonly [T in ToolName]: readonly (readonly [resourceType: string, permission: Permission])[] } = {
  get_patient: [['Patient', 'r']],
  search_observations: [['Observation', 's']],
  get_medication_list: [
    ['MedicationRequest', 's'],
    ['Medication', 'r'],
  ],
};

/** The scopes a client should ask for to use `tool` for a launch-context patient (SMART v2). */
export const scopesForTool = (tool: ToolName): readonly string[] => TOOL_NEEDS[tool].map(([type]) => `patient/${type}.rs`);

type Context = 'patient' | 'user' | 'system';

// SMART v2 `<context>/<type>.<c?r?u?d?s?>` or v1 `<context>/<type>.(read|write|*)`. A scope narrowed
// by a query (`?category=…`) is not honoured as a grant: the tools cannot apply the restriction.
const SCOPE = /^(patient|user|system)\/([A-Z][A-Za-z]*|\*)\.(read|write|\*|c?r?u?d?s?)$/;

/** The context in which `scope` grants `permission` on `resourceType`, if it does. */
const contextGranting = (scope: string, resourceType: string, permission: Permission): Context | undefined => {
  const match = SCOPE.exec(scope);
  if (match === null) return undefined;
  const [, context, type, permissions] = match as unknown as [string, Context, string, string];
  if (type !== '*' && type !== resourceType) return undefined;
  const granted = permissions === 'read' || permissions === '*' || (permissions !== 'write' && permissions.includes(permission));
  return granted ? context : undefined;
};

/** Before decoding: does the token carry, in some context, every scope the tool needs? */
export const checkToolScopes = (tool: ToolName, grant: AccessGrant): E.Either<AccessDenialReason, void> =>
  TOOL_NEEDS[tool].every(([type, permission]) => grant.scopes.some((scope) => contextGranting(scope, type, permission) !== undefined))
    ? E.right(undefined)
    : E.left('insufficient_scope');

/**
 * After decoding: may the token read this patient? A token with a launch-context patient reads that
 * patient only, whatever its scopes' context. Without one, `user/` and `system/` scopes cover any
 * patient and `patient/` scopes none.
 */
export const checkPatientContext = (tool: ToolName, patient: PatientId, grant: AccessGrant): E.Either<AccessDenialReason, void> => {
  if (grant.patient !== undefined) return samePatient(grant.patient, patient) ? E.right(undefined) : E.left('patient_not_in_context');
  const allowed = TOOL_NEEDS[tool].every(([type, permission]) =>
    grant.scopes.some((scope) => {
      const context = contextGranting(scope, type, permission);
      return context === 'user' || context === 'system';
    }),
  );
  return allowed ? E.right(undefined) : E.left('patient_not_in_context');
};

/**
 * Access control for one call with a granted token, in the order the audit combinator applies it:
 * the tool's scopes before decoding, then the decoded input, then the patient. The transport uses
 * it too, to answer 403, so the two can never disagree.
 */
export const authorizeCall = <I extends { readonly patient_id: PatientId }>(
  tool: ToolName,
  grant: AccessGrant,
  decode: (raw: unknown) => E.Either<DomainError, I>,
  rawInput: unknown,
): E.Either<DomainError, I> => {
  const scoped = checkToolScopes(tool, grant);
  if (E.isLeft(scoped)) return E.left(accessDenied(scoped.left));
  const input = decode(rawInput);
  if (E.isLeft(input)) return input;
  const inContext = checkPatientContext(tool, input.right.patient_id, grant);
  return E.isLeft(inContext) ? E.left(accessDenied(inContext.left)) : input;
};

const isPrintable = (s: string): boolean => E.isRight(CallerIdentity.decode(s));

const hmacHex = (key: HmacKey, text: string): string => bytesToHex(hmac(sha256, key.bytes, utf8ToBytes(text)));

/**
 * The caller a verified token names, for `caller_identity`: its `fhirUser` (the SMART user, e.g.
 * `Practitioner/123`), else its `sub`. A user who is a Patient or RelatedPerson is a patient
 * identifier, so that id is recorded only as its HMAC, like `patient_id_hmac`; so is the `sub` of a
 * patient-facing token (one with a launch-context patient or `patient/` scopes), which is often the
 * patient's own account.
 */
export const callerIdentityFromClaims = (
  claims: { readonly fhirUser?: unknown; readonly sub?: unknown },
  key: HmacKey,
  options: { readonly patientFacing?: boolean } = {},
): CallerIdentity | undefined => {
  const fhirUser = typeof claims.fhirUser === 'string' ? claims.fhirUser : undefined;
  if (fhirUser !== undefined) {
    const reference = /(?:^|\/)(Patient|RelatedPerson|Practitioner|PractitionerRole|Person)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(fhirUser);
    if (reference !== null) {
      const [, type, id] = reference as unknown as [string, string, string];
      const shown = type === 'Patient' || type === 'RelatedPerson' ? `${type}/hmac:${hmacPatientId(key, id)}` : `${type}/${id}`;
      return CallerIdentity.is(`fhirUser:${shown}`) ? (`fhirUser:${shown}` as CallerIdentity) : undefined;
    }
  }
  if (typeof claims.sub !== 'string' || claims.sub === '') return undefined;
  const subject = `sub:${claims.sub}`;
  return options.patientFacing !== true && isPrintable(subject) ? (subject as CallerIdentity) : (`sub-hmac:${hmacHex(key, claims.sub)}` as CallerIdentity);
};

/**
 * The access a verified token's claims grant: its scopes (`scope`, space-separated, or `scp`, a list
 * or a string), its SMART launch-context `patient`, and its user. Undefined when the claims are
 * unusable: a `patient` that is not a FHIR id, or no user to name.
 */
export const grantFromClaims = (claims: Readonly<Record<string, unknown>>, key: HmacKey): AccessGrant | undefined => {
  const listed = typeof claims.scope === 'string' ? claims.scope : typeof claims.scp === 'string' ? claims.scp : Array.isArray(claims.scp) ? claims.scp.filter((s): s is string => typeof s === 'string').join(' ') : '';
  const scopes = listed.split(' ').filter((scope) => scope !== '');
  const patient = typeof claims.patient === 'string' ? PatientId.fromString(claims.patient) : undefined;
  if (claims.patient !== undefined && patient === undefined) return undefined;
  const patientFacing = patient !== undefined || scopes.some((scope) => scope.startsWith('patient/'));
  const user = callerIdentityFromClaims(claims, key, { patientFacing });
  return user === undefined ? undefined : { scopes, patient, user };
};
