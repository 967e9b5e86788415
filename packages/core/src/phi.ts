// The one door to a patient's plaintext id. Only FHIR adapters may import this entry point;
// a test in the server package fails if any other package does.
import { type PatientId, unsafeRawPatientId } from './PatientId.js';

/** @phi The plaintext FHIR id, for building a FHIR request. Never log or return it. */
export const revealPatientId = (id: PatientId): string => unsafeRawPatientId(id);
