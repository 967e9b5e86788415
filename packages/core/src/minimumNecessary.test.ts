import { describe, expect, it } from 'vitest';
import { minimumNecessaryPatient } from './minimumNecessary.js';

const ssn = ['999', '12', '3456'].join('-');
const patient: fhir4.Patient = {
  resourceType: 'Patient',
  id: 'p1',
  text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">SSN ${ssn}</div>` },
  extension: [
    { url: 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName', valueString: 'Maiden' },
    { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race', valueString: 'kept' },
  ],
  identifier: [
    { system: 'https://github.com/synthetichealth/synthea', value: 'p1' },
    { system: 'http://hospital.example', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, value: 'mrn-1' },
    { system: 'http://hl7.org/fhir/sid/us-ssn', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'SS' }] }, value: ssn },
    { system: 'urn:oid:2.16.840.1.113883.4.3.25', type: { coding: [{ code: 'DL' }] }, value: 'S99912345' },
    { system: 'http://hl7.org/fhir/sid/passport-USA', value: 'X12345678' },
  ],
  name: [{ family: 'Roe', given: ['Jane'] }],
  birthDate: ['1985', '08', '20'].join('-'),
};

describe('minimumNecessaryPatient', () => {
  it('removes government identifiers (by type or by system), the narrative and the maiden name, and says so', () => {
    const { patient: out, removed } = minimumNecessaryPatient(patient);
    expect(out.identifier?.map((i) => i.value)).toStrictEqual(['p1', 'mrn-1']);
    expect(out.text).toBeUndefined();
    expect(out.extension?.map((e) => e.valueString)).toStrictEqual(['kept']);
    expect(removed).toStrictEqual(['text', 'identifier:SS', 'identifier:DL', 'identifier:http://hl7.org/fhir/sid/passport-USA', 'extension:mothersMaidenName']);
    expect(JSON.stringify(out)).not.toMatch(new RegExp(`${ssn}|S99912345|X12345678|Maiden`));
    expect(out.name).toStrictEqual(patient.name);
    expect(out.birthDate).toBe(patient.birthDate);
  });

  it('leaves the stored resource untouched and removes nothing from a Patient without such data', () => {
    const before = JSON.stringify(patient);
    minimumNecessaryPatient(patient);
    expect(JSON.stringify(patient)).toBe(before);
    expect(minimumNecessaryPatient({ resourceType: 'Patient', id: 'x' })).toStrictEqual({ patient: { resourceType: 'Patient', id: 'x' }, removed: [] });
  });
});
