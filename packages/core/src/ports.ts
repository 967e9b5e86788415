// The ports the core needs from the outside world, each as narrow as the three use cases require.
// Adapters implement them in their own packages; contract suites in `./testing` pin their behaviour.
import type * as O from 'fp-ts/lib/Option.js';
import type * as T from 'fp-ts/lib/Task.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import type { CallAccess } from './access.js';
import type { AuditRecord, CallerIdentity, RequestId, ToolName, WorkloadIdentity } from './AuditRecord.js';
import type { AuditError, FhirError, IdentityError, KeyError } from './errors.js';
import type { PatientOutputPolicy } from './minimumNecessary.js';
import type { LoincCode } from './LoincCode.js';
import type { PatientId } from './PatientId.js';
import type { HmacKey, PatientIdHmac } from './PatientIdHmac.js';
import type { QueryHmac } from './readThrough.js';

export interface ObservationQuery {
  readonly patientId: PatientId;
  readonly code: LoincCode;
  /** Return at most this many, newest first. */
  readonly limit: number;
}

export interface ObservationSearchResult {
  /** Newest first (`_sort=-date`), at most `limit`. */
  readonly observations: readonly fhir4.Observation[];
  /** How many matched in all; null when the server did not say and not every page was read. */
  readonly total: number | null;
  /** True when matches were left out because of `limit`. */
  readonly truncated: boolean;
}

export interface MedicationList {
  /** Only `status = active`. */
  readonly medicationRequests: readonly fhir4.MedicationRequest[];
  /** The Medications those requests reference through `medicationReference`. */
  readonly medications: readonly fhir4.Medication[];
}

/** Read access to FHIR R4 data. Every result belongs to the patient asked for, or it is an error. */
export interface FhirRepository {
  /** See: https://hl7.org/fhir/R4/http.html#read — `NotFound` when there is no such Patient. */
  readonly readPatient: (patientId: PatientId) => TE.TaskEither<FhirError, fhir4.Patient>;
  /** See: https://hl7.org/fhir/R4/search.html — `Observation?patient=&code=&_sort=-date`. */
  readonly searchObservations: (query: ObservationQuery) => TE.TaskEither<FhirError, ObservationSearchResult>;
  /** `MedicationRequest?patient=&status=active&_include=MedicationRequest:medication`. */
  readonly searchActiveMedicationRequests: (patientId: PatientId) => TE.TaskEither<FhirError, MedicationList>;
}

/** Where audit records go. `append` resolves Right only once the record is durable. */
export interface AuditSink {
  readonly append: (record: AuditRecord) => TE.TaskEither<AuditError, void>;
}

/** What the core knows about one tool call before it runs. Make it with `newCallContext()`. */
export interface CallContext {
  readonly requestId: RequestId;
  /** Set by a transport that authorizes each request (HTTP with OAuth); absent over stdio. */
  readonly access?: CallAccess;
}

/** Who is behind one tool call: the caller, and the verified workload this server runs as. */
export interface Identities {
  readonly caller: CallerIdentity;
  /** null when the server has no workload identity configured. */
  readonly workload: WorkloadIdentity | null;
}

/** Names the caller of one tool call (`caller_identity`) and the server's workload (`workload_identity`). */
export interface IdentityProvider {
  readonly identify: (call: CallContext) => TE.TaskEither<IdentityError, Identities>;
}

/** Supplies the key under which patient ids are HMAC'd. */
export interface KeyProvider {
  readonly hmacKey: () => TE.TaskEither<KeyError, HmacKey>;
}

/** Where one cached result lives: its patient and its query, both as HMACs, never an id or a code. */
export interface CacheSlot {
  readonly patient: PatientIdHmac;
  readonly query: QueryHmac;
}

/**
 * A cache of FHIR results (JSON text), which its adapter must keep encrypted at rest and bound to the
 * slot. It never fails a call: a read that goes wrong is a miss, a write that goes wrong is skipped,
 * and the adapter says so in its own PHI-free warnings. Stale or foreign data must never be read back.
 */
export interface PhiCache {
  /**
   * What every cached result depends on besides its query: the FHIR source and the identity it is
   * read as (FHIR ids are unique only within one server). It goes into each slot's query HMAC, so two
   * configurations sharing a cache directory never see each other's entries.
   */
  readonly partition: string;
  readonly read: (slot: CacheSlot) => T.Task<O.Option<string>>;
  readonly write: (slot: CacheSlot, json: string) => T.Task<void>;
}

export interface Clock {
  readonly now: () => Date;
}

export interface Limits {
  /** Most Observations one `search_observations` call returns (FHIR_MAX_RESULTS). */
  readonly maxObservations: number;
  /** What of a Patient `get_patient` returns (PHI_OUTPUT_POLICY). */
  readonly patientOutput: PatientOutputPolicy;
}

/** Everything the use cases need, built in exactly one place (the wiring). */
export interface Deps {
  readonly fhir: FhirRepository;
  readonly audit: AuditSink;
  readonly identity: IdentityProvider;
  readonly keys: KeyProvider;
  readonly clock: Clock;
  readonly limits: Limits;
  /** Absent: every read goes to the FHIR server. */
  readonly cache?: PhiCache;
  /**
   * Told of every defect (a thrown error) that the audit combinator turned into `internal_error`.
   * Error messages may hold input: an implementation logs the error's class and stack frames only.
   */
  readonly reportDefect: (defect: unknown, where: { readonly tool: ToolName; readonly requestId: RequestId }) => void;
}
