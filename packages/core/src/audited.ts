// The audit invariant as ONE combinator around every use case: decode, hash the id at the boundary,
// run, write exactly one record, and hand back data only after the sink acknowledged it (fail closed).
import * as E from 'fp-ts/lib/Either.js';
import type * as RTE from 'fp-ts/lib/ReaderTaskEither.js';
import {
  type AuditRecord,
  type AuditStatus,
  type CallerIdentity,
  checkAuditRecord,
  type DataSource,
  type ErrorCode,
  type IsoTimestamp,
  type KeyId,
  type ToolName,
  type WorkloadIdentity,
} from './AuditRecord.js';
import { authorizeCall } from './access.js';
import {
  accessDenied,
  auditUnavailable,
  type DomainError,
  identityUnavailable,
  internalError,
  keyUnavailable,
  matchDomainError,
} from './errors.js';
import type { PatientId } from './PatientId.js';
import { type HmacKey, hmacPatientId, type PatientIdHmac } from './PatientIdHmac.js';
import type { CallContext, Deps } from './ports.js';
import { type ReadThrough, readThroughFor } from './readThrough.js';

/** The error code a record carries for each domain error. */
export const errorCodeOf: (e: DomainError) => ErrorCode = matchDomainError<ErrorCode>({
  InvalidInput: () => 'invalid_input',
  PatientNotFound: () => 'patient_not_found',
  FhirUnavailable: () => 'fhir_unavailable',
  FhirTimeout: () => 'fhir_timeout',
  FhirInvalidResponse: () => 'fhir_invalid_response',
  FhirAuthFailed: () => 'fhir_auth_failed',
  FhirRejected: () => 'fhir_rejected',
  AuditUnavailable: () => 'audit_unavailable',
  KeyUnavailable: () => 'key_unavailable',
  IdentityUnavailable: () => 'identity_unavailable',
  InternalError: () => 'internal_error',
  AccessDenied: (e) => e.reason,
});

/** The status a call's record carries for its outcome. */
export const auditStatusOf = (outcome: E.Either<DomainError, unknown>): AuditStatus =>
  E.isRight(outcome) ? 'success' : outcome.left._tag === 'AccessDenied' ? 'denied' : 'error';

/**
 * @phi The `patient_id` argument as given, valid or not, so that even a rejected call is
 * attributable: strings as they are, other JSON values as their JSON text; absent or null → undefined.
 */
const givenPatientId = (rawInput: unknown): string | undefined => {
  if (typeof rawInput !== 'object' || rawInput === null || !Object.hasOwn(rawInput, 'patient_id')) return undefined;
  const value: unknown = (rawInput as { patient_id: unknown }).patient_id;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
};

/** Runs a step, turning a throw or a rejection (a defect) into InternalError. */
const guarded = async <A>(
  step: () => Promise<E.Either<DomainError, A>>,
  onDefect: (defect: unknown) => void,
): Promise<E.Either<DomainError, A>> => {
  try {
    return await step();
  } catch (defect) {
    onDefect(defect);
    return E.left(internalError);
  }
};

/** What a use case gets besides its input: the one way it reads FHIR, through the PHI cache. */
export interface CallScope {
  readonly readThrough: ReadThrough;
}

/** Every tool names one patient; access control checks it against the token's launch context. */
export interface PatientInput {
  readonly patient_id: PatientId;
}

/** A use case after decoding: it sees only validated input and never writes audit records. */
export type UseCase<I, A> = (input: I, scope: CallScope) => RTE.ReaderTaskEither<Deps, DomainError, A>;

/** An audited tool: the raw arguments as the caller sent them, plus the call's context. */
export type AuditedTool<A> = (rawInput: unknown, call: CallContext) => RTE.ReaderTaskEither<Deps, DomainError, A>;

/**
 * Wraps a use case so that every call — success, denial, invalid input, not found, upstream failure
 * or defect — writes exactly one AuditRecord, and its data is returned only once that record is durable.
 * With `call.access` (a transport that authorizes requests), a bad token, a missing scope or another
 * patient than the token's launch context is refused before the use case runs, as `denied`.
 */
export const audited =
  <I extends PatientInput, A>(tool: ToolName, decode: (raw: unknown) => E.Either<DomainError, I>, useCase: UseCase<I, A>): AuditedTool<A> =>
  (rawInput, call) =>
  (deps) =>
  async () => {
    const reportDefect = (defect: unknown): void => {
      try {
        deps.reportDefect(defect, { tool, requestId: call.requestId });
      } catch {
        // A failing reporter must not turn a recorded failure into an unrecorded one.
      }
    };
    let patientIdHmac: PatientIdHmac | null = null;
    let callerIdentity: CallerIdentity | null = null;
    let workloadIdentity: WorkloadIdentity | null = null;
    let keyId: KeyId | null = null;
    let dataSource: (() => DataSource) | null = null;

    const outcome = await guarded<A>(async () => {
      const key = await deps.keys.hmacKey()();
      if (E.isLeft(key)) return E.left(keyUnavailable);
      keyId = key.right.id as KeyId;
      patientIdHmac = hmacOf(key.right, givenPatientId(rawInput));

      if (call.access?._tag === 'InvalidToken') return E.left(accessDenied('invalid_token'));
      if (call.access?._tag === 'Unverifiable') return E.left(identityUnavailable);
      const identities = await deps.identity.identify(call)();
      if (E.isLeft(identities)) return E.left(identityUnavailable);
      callerIdentity = identities.right.caller;
      workloadIdentity = identities.right.workload;

      const input = call.access?._tag === 'Granted' ? authorizeCall(tool, call.access.grant, decode, rawInput) : decode(rawInput);
      if (E.isLeft(input)) return input;
      const reads = readThroughFor(deps.cache, key.right, patientIdHmac, reportDefect);
      dataSource = reads.source;
      return useCase(input.right, { readThrough: reads.readThrough })(deps)();
    }, reportDefect);

    const written = await guarded<void>(async () => {
      const record: AuditRecord = {
        timestamp: deps.clock.now().toISOString() as IsoTimestamp,
        tool,
        patient_id_hmac: patientIdHmac,
        caller_identity: callerIdentity,
        request_id: call.requestId,
        status: auditStatusOf(outcome),
        error_code: E.isRight(outcome) ? null : errorCodeOf(outcome.left),
        key_id: keyId,
        data_source: E.isRight(outcome) && dataSource !== null ? dataSource() : null,
        workload_identity: workloadIdentity,
      };
      const checked = checkAuditRecord(record);
      if (E.isLeft(checked)) throw new AuditRecordRejected();
      const appended = await deps.audit.append(checked.right)();
      return E.isRight(appended) ? E.right(undefined) : E.left(auditUnavailable);
    }, reportDefect);

    if (E.isLeft(written)) return E.left(auditUnavailable);
    return outcome;
  };

const hmacOf = (key: HmacKey, rawPatientId: string | undefined): PatientIdHmac | null =>
  rawPatientId === undefined ? null : hmacPatientId(key, rawPatientId);

/** A record failed the exact-shape gate: a defect upstream of the sink, never written. */
export class AuditRecordRejected extends Error {
  override readonly name = 'AuditRecordRejected';
  constructor() {
    super('An audit record did not match the audit record codec; it was not written.');
  }
}
