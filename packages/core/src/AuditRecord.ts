// The one audit record shape: the same ten keys, in the same order, for every tool call.
// `checkAuditRecord` is the gate every record passes before any sink sees it; nothing else gets through.
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { PatientIdHmac } from './PatientIdHmac.js';

export const ToolName = t.keyof({ get_patient: null, search_observations: null, get_medication_list: null });
export type ToolName = t.TypeOf<typeof ToolName>;
export const TOOL_NAMES: readonly ToolName[] = Object.keys(ToolName.keys) as ToolName[];

/** `denied`: refused by access control (a bad token, a missing scope, another patient than the token's). */
export const AuditStatus = t.keyof({ success: null, error: null, denied: null });
export type AuditStatus = t.TypeOf<typeof AuditStatus>;

/** One code per DomainError tag (see `errorCodeOf`). */
export const ErrorCode = t.keyof({
  invalid_input: null,
  patient_not_found: null,
  fhir_unavailable: null,
  fhir_timeout: null,
  fhir_invalid_response: null,
  fhir_auth_failed: null,
  fhir_rejected: null,
  audit_unavailable: null,
  key_unavailable: null,
  identity_unavailable: null,
  internal_error: null,
  invalid_token: null,
  insufficient_scope: null,
  patient_not_in_context: null,
});
export type ErrorCode = t.TypeOf<typeof ErrorCode>;

/** The codes of a `denied` record, and only of one. */
export const DENIAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['invalid_token', 'insufficient_scope', 'patient_not_in_context']);

/** Where a successful call's data came from: the encrypted PHI cache or the FHIR server. */
export const DataSource = t.keyof({ cache: null, fhir: null });
export type DataSource = t.TypeOf<typeof DataSource>;

interface RequestIdBrand {
  readonly RequestId: unique symbol;
}
/** A lowercase RFC 9562 UUID. Only UUIDs: a free-form id could smuggle an identifier into the log. */
export const RequestId = t.brand(
  t.string,
  (s): s is t.Branded<string, RequestIdBrand> =>
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s),
  'RequestId',
);
export type RequestId = t.TypeOf<typeof RequestId>;

interface CallerIdentityBrand {
  readonly CallerIdentity: unique symbol;
}
/** Who made the call (a workforce user or a workload): 1-256 printable ASCII characters. */
export const CallerIdentity = t.brand(
  t.string,
  (s): s is t.Branded<string, CallerIdentityBrand> => /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/.test(s),
  'CallerIdentity',
);
export type CallerIdentity = t.TypeOf<typeof CallerIdentity>;

interface IsoTimestampBrand {
  readonly IsoTimestamp: unique symbol;
}
/** UTC, millisecond precision, as `Date.prototype.toISOString` writes it. */
export const IsoTimestamp = t.brand(
  t.string,
  (s): s is t.Branded<string, IsoTimestampBrand> => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(s),
  'IsoTimestamp',
);
export type IsoTimestamp = t.TypeOf<typeof IsoTimestamp>;

interface WorkloadIdentityBrand {
  readonly WorkloadIdentity: unique symbol;
}
/**
 * The server's own verified workload identity: a SPIFFE ID (spiffe://<trust domain>/<path>, at most
 * 2048 bytes; https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md).
 */
export const WorkloadIdentity = t.brand(
  t.string,
  (s): s is t.Branded<string, WorkloadIdentityBrand> => s.length <= 2048 && /^spiffe:\/\/[a-z0-9._-]{1,255}(?:\/[A-Za-z0-9._-]+)*$/.test(s) && !/\/\.{1,2}(?:\/|$)/.test(s),
  'WorkloadIdentity',
);
export type WorkloadIdentity = t.TypeOf<typeof WorkloadIdentity>;

interface KeyIdBrand {
  readonly KeyId: unique symbol;
}
/** The public name of the HMAC key that made `patient_id_hmac`, so that keys can rotate. */
export const KeyId = t.brand(t.string, (s): s is t.Branded<string, KeyIdBrand> => /^[A-Za-z0-9._:-]{1,64}$/.test(s), 'KeyId');
export type KeyId = t.TypeOf<typeof KeyId>;

export const AuditRecord = t.type({
  timestamp: IsoTimestamp,
  tool: ToolName,
  patient_id_hmac: t.union([PatientIdHmac, t.null]),
  caller_identity: t.union([CallerIdentity, t.null]),
  request_id: RequestId,
  status: AuditStatus,
  error_code: t.union([ErrorCode, t.null]),
  /** null only when no key could be had (then `patient_id_hmac` is null too). */
  key_id: t.union([KeyId, t.null]),
  /** `cache` when every read of the call was a cache hit, else `fhir`; null exactly when the call failed. */
  data_source: t.union([DataSource, t.null]),
  /** The server's SPIFFE ID when it runs with one (SPIFFE_*), else null. */
  workload_identity: t.union([WorkloadIdentity, t.null]),
});
export type AuditRecord = t.TypeOf<typeof AuditRecord>;

/** The record's keys in their serialised order. */
export const AUDIT_RECORD_KEYS = Object.keys(AuditRecord.props) as readonly (keyof AuditRecord)[];

/**
 * Accepts exactly an AuditRecord: every key present in order, no extra key, every value in its
 * closed form, `error_code` null exactly when `status` is success and a denial code exactly when it
 * is denied, and `data_source` null exactly when it is not success. Anything else is refused.
 */
export const checkAuditRecord = (u: unknown): E.Either<'rejected', AuditRecord> => {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return E.left('rejected');
  const keys = Object.keys(u);
  if (keys.length !== AUDIT_RECORD_KEYS.length || keys.some((k, i) => k !== AUDIT_RECORD_KEYS[i])) {
    return E.left('rejected');
  }
  const decoded = AuditRecord.decode(u);
  if (E.isLeft(decoded)) return E.left('rejected');
  const record = decoded.right;
  if ((record.status === 'success') !== (record.error_code === null)) return E.left('rejected');
  if ((record.status === 'success') !== (record.data_source !== null)) return E.left('rejected');
  if ((record.status === 'denied') !== (record.error_code !== null && DENIAL_CODES.has(record.error_code))) return E.left('rejected');
  return E.right(record);
};
