// HIPAA's minimum-necessary standard (45 CFR 164.502(b)) applied to a returned Patient: the model
// gets what it needs for care, not what it needs for identity theft. Pure; the use case applies it.

/** `minimum-necessary` (the default) removes identity-theft material; `full` returns what is stored. */
export type PatientOutputPolicy = 'minimum-necessary' | 'full';

// HL7 v2 table 0203 identifier types that are government or payer identifiers.
const GOVERNMENT_TYPES = new Set(['SS', 'SB', 'DL', 'DS', 'PPN', 'TAX', 'NI', 'NIIP', 'NH', 'MC', 'MA', 'CZ', 'BCT', 'VS', 'PCN', 'MI']);
// Identifier systems that are government numbers whatever type they are given.
const GOVERNMENT_SYSTEMS = [/^http:\/\/hl7\.org\/fhir\/sid\/us-(ssn|medicare|mbi)$/, /^http:\/\/hl7\.org\/fhir\/sid\/passport-/, /^urn:oid:2\.16\.840\.1\.113883\.4\.(1|3(\.\d+)?)$/];
const MAIDEN_NAME = 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName';

const isGovernment = (identifier: fhir4.Identifier): boolean =>
  (identifier.type?.coding ?? []).some((c) => c.code !== undefined && GOVERNMENT_TYPES.has(c.code)) ||
  GOVERNMENT_SYSTEMS.some((system) => system.test(identifier.system ?? ''));

export interface MinimumNecessaryPatient {
  readonly patient: fhir4.Patient;
  /** What was removed, e.g. `identifier:SS`, `text`, `extension:mothersMaidenName`. */
  readonly removed: readonly string[];
}

/** A copy of the Patient without government identifiers, mother's maiden name and free-text narrative. */
export const minimumNecessaryPatient = (patient: fhir4.Patient): MinimumNecessaryPatient => {
  const removed: string[] = [];
  const { text, identifier, extension, ...rest } = patient;
  const kept: fhir4.Patient = { ...rest };
  if (text !== undefined) removed.push('text'); // the narrative may repeat any identifier
  if (identifier !== undefined) {
    const keptIdentifiers = identifier.filter((i) => {
      if (!isGovernment(i)) return true;
      removed.push(`identifier:${i.type?.coding?.find((c) => c.code !== undefined)?.code ?? i.system ?? 'unknown'}`);
      return false;
    });
    if (keptIdentifiers.length > 0) kept.identifier = keptIdentifiers;
  }
  if (extension !== undefined) {
    const keptExtensions = extension.filter((e) => e.url !== MAIDEN_NAME);
    if (keptExtensions.length < extension.length) removed.push('extension:mothersMaidenName');
    if (keptExtensions.length > 0) kept.extension = keptExtensions;
  }
  return { patient: kept, removed };
};
