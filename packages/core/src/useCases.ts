// The three read-only use cases, each wrapped by the audit combinator. They see decoded input only
// and return views of FHIR resources; what they may return is decided here, not in the adapters.
import { pipe } from 'fp-ts/lib/function.js';
import * as E from 'fp-ts/lib/Either.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { type AccessGrant, authorizeCall } from './access.js';
import { type AuditedTool, audited } from './audited.js';
import type { ToolName } from './AuditRecord.js';
import { type AccessDenialReason, fromFhirError } from './errors.js';
import { decodeToolInput, GetMedicationListInput, GetPatientInput, SearchObservationsInput } from './inputs.js';
import { minimumNecessaryPatient, type PatientOutputPolicy } from './minimumNecessary.js';
import type { MedicationList, ObservationSearchResult } from './ports.js';

export interface PatientView {
  readonly patient: fhir4.Patient;
  /** The policy applied, and what it removed (empty under `full`). */
  readonly output_policy: PatientOutputPolicy;
  readonly removed: readonly string[];
}

export type ObservationsView = ObservationSearchResult;

export type MedicationListView = MedicationList;

/** Each tool's exact argument decoder. */
const TOOL_INPUTS = {
  get_patient: decodeToolInput(GetPatientInput),
  search_observations: decodeToolInput(SearchObservationsInput),
  get_medication_list: decodeToolInput(GetMedicationListInput),
} as const;

/** `get_patient {patient_id}` → the Patient resource, as the output policy allows. */
export const getPatient: AuditedTool<PatientView> = audited(
  'get_patient',
  TOOL_INPUTS.get_patient,
  (input, { readThrough }) => (deps) =>
    pipe(
      // The policy is applied before caching, so what it removes is never stored at rest either.
      readThrough(['get_patient', deps.limits.patientOutput], pipe(deps.fhir.readPatient(input.patient_id), TE.map(patientView(deps.limits.patientOutput)))),
      TE.mapLeft(fromFhirError),
    ),
);

const patientView =
  (policy: PatientOutputPolicy) =>
  (stored: fhir4.Patient): PatientView => {
    if (policy === 'full') return { patient: stored, output_policy: 'full', removed: [] };
    const { patient, removed } = minimumNecessaryPatient(stored);
    return { patient, output_policy: 'minimum-necessary', removed };
  };

/** `search_observations {patient_id, code}` → that patient's Observations for a LOINC code, newest first. */
export const searchObservations: AuditedTool<ObservationsView> = audited(
  'search_observations',
  TOOL_INPUTS.search_observations,
  (input, { readThrough }) => (deps) =>
    pipe(
      readThrough(
        ['search_observations', input.code, deps.limits.maxObservations],
        deps.fhir.searchObservations({ patientId: input.patient_id, code: input.code, limit: deps.limits.maxObservations }),
      ),
      TE.mapLeft(fromFhirError),
    ),
);

/** `get_medication_list {patient_id}` → active MedicationRequests and the Medications they reference. */
export const getMedicationList: AuditedTool<MedicationListView> = audited(
  'get_medication_list',
  TOOL_INPUTS.get_medication_list,
  (input, { readThrough }) => (deps) =>
    pipe(readThrough(['get_medication_list'], deps.fhir.searchActiveMedicationRequests(input.patient_id)), TE.bimap(fromFhirError, onlyActive)),
);

/**
 * Keeps active requests and the Medications they reference, even if a server ignored `status=active`
 * (the reference design returned stopped prescriptions as active).
 */
export const onlyActive = (list: MedicationList): MedicationList => {
  const medicationRequests = list.medicationRequests.filter((request) => request.status === 'active');
  // References as `Medication/<id>`, absolute or relative, any `/_history/<version>` dropped.
  const referenced = new Set(
    medicationRequests.flatMap((request) => /(?:^|\/)(Medication\/[^/]+)(?:\/_history\/[^/]+)?$/.exec(request.medicationReference?.reference ?? '')?.[1] ?? []),
  );
  const medications = list.medications.filter((medication) => referenced.has(`Medication/${medication.id}`));
  return { medicationRequests, medications };
};

export interface ToolViews {
  readonly get_patient: PatientView;
  readonly search_observations: ObservationsView;
  readonly get_medication_list: MedicationListView;
}

/**
 * Whether a granted token may make this call, by the same rule and in the same order as the audit
 * combinator: for a transport that must answer a refusal itself (HTTP 403). Invalid input is not a
 * refusal: the tool reports it.
 */
export const checkToolAccess = (tool: ToolName, rawInput: unknown, grant: AccessGrant): E.Either<AccessDenialReason, void> => {
  const decided = authorizeCall(tool, grant, TOOL_INPUTS[tool], rawInput);
  return E.isLeft(decided) && decided.left._tag === 'AccessDenied' ? E.left(decided.left.reason) : E.right(undefined);
};

/** Every tool by name: what a transport dispatches on. */
export const TOOLS: { readonly [N in ToolName]: AuditedTool<ToolViews[N]> } = {
  get_patient: getPatient,
  search_observations: searchObservations,
  get_medication_list: getMedicationList,
};
