// The three read-only use cases, each wrapped by the audit combinator. They see decoded input only
// and return views of FHIR resources; what they may return is decided here, not in the adapters.
import { pipe } from 'fp-ts/lib/function.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { type AuditedTool, audited } from './audited.js';
import type { ToolName } from './AuditRecord.js';
import { fromFhirError } from './errors.js';
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

/** `get_patient {patient_id}` → the Patient resource, as the output policy allows. */
export const getPatient: AuditedTool<PatientView> = audited(
  'get_patient',
  decodeToolInput(GetPatientInput),
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
  decodeToolInput(SearchObservationsInput),
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
  decodeToolInput(GetMedicationListInput),
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

/** Every tool by name: what a transport dispatches on. */
export const TOOLS: { readonly [N in ToolName]: AuditedTool<ToolViews[N]> } = {
  get_patient: getPatient,
  search_observations: searchObservations,
  get_medication_list: getMedicationList,
};
