import { describe, expect, it } from 'vitest';
import { generatedPatientId, generatePatientBundle } from './generate.js';

describe('generatePatientBundle', () => {
  it('is deterministic per seed and Synthea-shaped', () => {
    const a = generatePatientBundle({ seed: 7, heartRates: 50 });
    expect(JSON.stringify(generatePatientBundle({ seed: 7, heartRates: 50 }))).toBe(JSON.stringify(a));
    expect(generatedPatientId(generatePatientBundle({ seed: 8, heartRates: 50 }))).not.toBe(generatedPatientId(a));
    expect(a.type).toBe('transaction');
    const types = (a.entry ?? []).map((e) => e.resource?.resourceType);
    expect(types.filter((t) => t === 'Patient')).toHaveLength(1);
    expect(types.filter((t) => t === 'Observation')).toHaveLength(60);
    expect((a.entry ?? []).every((e) => e.fullUrl === `urn:uuid:${e.resource?.id}` && e.request?.method === 'POST')).toBe(true);
    const heartRates = (a.entry ?? []).map((e) => e.resource as fhir4.Observation).filter((o) => o.code?.coding?.[0]?.code === '8867-4');
    expect(heartRates[0]?.effectiveDateTime).toBe('2026-01-01T00:00:00.000Z');
    expect(heartRates[1]?.effectiveDateTime).toBe('2025-12-31T23:00:00.000Z');
    expect(heartRates.every((o) => o.subject?.reference === `urn:uuid:${generatedPatientId(a)}`)).toBe(true);
  });
});
