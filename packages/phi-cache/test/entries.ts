// What the envelope tests share: two synthetic patients' HMACs, a slot, times and a resource to seal.
// Outside src/, so it never reaches dist.
import { hmacPatientId, type PatientIdHmac } from '@hipaa-fhir-mcp/core';
import { testHmacKey } from '@hipaa-fhir-mcp/core/testing';

export const ALICE_ID = 'synthetic-patient-a';
export const alice = hmacPatientId(testHmacKey, ALICE_ID);
export const bob = hmacPatientId(testHmacKey, 'synthetic-patient-b');
export const carol = hmacPatientId(testHmacKey, 'synthetic-patient-c');
export const NOW = Date.now();
export const LATER = NOW + 60_000;
export const SLOT = 'a'.repeat(64);
/** The address of an entry: its patient, and a slot. */
export const at = (patient: PatientIdHmac, slot = SLOT) => ({ patient, slot });
export const resource = Buffer.from(JSON.stringify({ resourceType: 'Observation', id: 'obs-1', valueQuantity: { value: 72, unit: '/min' } }));
