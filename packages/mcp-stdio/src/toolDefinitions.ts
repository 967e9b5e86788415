// What the model sees of the three tools: names and argument names of the reference design (drop-in),
// exact JSON Schemas, output schemas and read-only annotations. Validation itself happens in the core.
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolName } from '@hipaa-fhir-mcp/core';

const patientIdSchema = {
  type: 'string',
  description: 'The FHIR id of the patient (Patient.id), e.g. "d66b5418-06cb-fc8a-8c13-85685b6ac939".',
  pattern: '^[A-Za-z0-9\\-.]{1,64}$',
  minLength: 1,
  maxLength: 64,
} as const;

const loincCodeSchema = {
  type: 'string',
  description:
    'A LOINC code, bare or as a FHIR token: "8867-4" or "http://loinc.org|8867-4". Common codes: 8867-4 heart rate, ' +
    '8302-2 body height, 29463-7 body weight, 39156-5 BMI, 85354-9 blood pressure panel, 55284-4 blood pressure ' +
    '(older records), 4548-4 hemoglobin A1c, 2339-0 glucose, 2093-3 cholesterol, 718-7 hemoglobin.',
  pattern: '^(http://loinc\\.org\\|)?[0-9]{1,7}-[0-9]$',
} as const;

const resourceSchema = (resourceType: string) =>
  ({ type: 'object', properties: { resourceType: { const: resourceType } }, required: ['resourceType'] }) as const;

const requestIdSchema = {
  type: 'string',
  description: 'The id of this call in the audit log; quote it when asking about this call.',
} as const;

const patientOnlyInput: Tool['inputSchema'] = {
  type: 'object',
  properties: { patient_id: patientIdSchema },
  required: ['patient_id'],
  additionalProperties: false,
};

const annotations = { readOnlyHint: true, idempotentHint: true, openWorldHint: false } as const;

export const TOOL_DEFINITIONS: readonly (Tool & { name: ToolName })[] = [
  {
    name: 'get_patient',
    title: 'Get patient',
    description:
      "Read one patient's FHIR R4 Patient resource by FHIR id: name, gender, birth date, deceased status, address " +
      'and contact details. Use it to confirm who the patient is before reading their clinical data. By default ' +
      'government identifiers (SSN, licence, passport…) are left out; `removed` lists what was. ' +
      'Every call is recorded in an audit log (the patient id only as a keyed hash).',
    inputSchema: patientOnlyInput,
    outputSchema: {
      type: 'object',
      properties: {
        request_id: requestIdSchema,
        patient: resourceSchema('Patient'),
        output_policy: {
          enum: ['minimum-necessary', 'full'],
          description: 'minimum-necessary: government identifiers, the narrative and the maiden name were removed.',
        },
        removed: { type: 'array', items: { type: 'string' }, description: 'What the policy removed, e.g. identifier:SS.' },
      },
      required: ['request_id', 'patient', 'output_policy', 'removed'],
    },
    annotations: { ...annotations, title: 'Get patient' },
  },
  {
    name: 'search_observations',
    title: 'Search observations',
    description:
      "List one patient's FHIR R4 Observations (vital signs, lab results) for one LOINC code, newest first. " +
      'At most a configured number are returned: `total` says how many matched and `truncated` whether some were ' +
      'left out. An empty list means the patient has no Observation with that code. Every call is audited.',
    inputSchema: {
      type: 'object',
      properties: { patient_id: patientIdSchema, code: loincCodeSchema },
      required: ['patient_id', 'code'],
      additionalProperties: false,
    },
    outputSchema: {
      type: 'object',
      properties: {
        request_id: requestIdSchema,
        observations: { type: 'array', items: resourceSchema('Observation') },
        total: { type: ['integer', 'null'], description: 'How many matched in all; null when unknown.' },
        truncated: { type: 'boolean', description: 'True when matches were left out to keep the result small.' },
      },
      required: ['request_id', 'observations', 'total', 'truncated'],
    },
    annotations: { ...annotations, title: 'Search observations' },
  },
  {
    name: 'get_medication_list',
    title: 'Get active medication list',
    description:
      "List one patient's active medication orders: FHIR R4 MedicationRequests with status active, plus the " +
      'Medication resources they reference. Stopped, completed, cancelled and on-hold orders are left out. ' +
      'Every call is audited.',
    inputSchema: patientOnlyInput,
    outputSchema: {
      type: 'object',
      properties: {
        request_id: requestIdSchema,
        medicationRequests: { type: 'array', items: resourceSchema('MedicationRequest') },
        medications: { type: 'array', items: resourceSchema('Medication') },
      },
      required: ['request_id', 'medicationRequests', 'medications'],
    },
    annotations: { ...annotations, title: 'Get active medication list' },
  },
];
