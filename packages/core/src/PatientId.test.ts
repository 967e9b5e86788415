import { inspect, format } from 'node:util';
import fc from 'fast-check';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { parsePatientId, PatientId } from './PatientId.js';
import { revealPatientId } from './phi.js';

const REDACTED = '<redacted:PatientId>';
const fhirId = fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/).filter((s) => !/^\.+$/.test(s));

const renderings = (id: PatientId): string[] => [
  String(id),
  `${id}`,
  `id=${id}`,
  JSON.stringify(id),
  JSON.stringify({ id }),
  inspect(id),
  inspect({ nested: { id } }, { depth: 10, showHidden: true }),
  format('%s %o %O %j', id, id, id, id),
  String(new Error(`failed for ${id}`)),
];

describe('PatientId', () => {
  it('prints as <redacted:PatientId> in every common rendering, whatever the id', () => {
    const reference = renderings(PatientId.fromString('reference') as PatientId);
    expect(reference[0]).toBe(REDACTED);
    fc.assert(
      fc.property(fhirId, (raw) => {
        expect(renderings(PatientId.fromString(raw) as PatientId)).toStrictEqual(reference);
      }),
    );
  });

  it('keeps the raw value out of the object itself', () => {
    const id = PatientId.fromString('abc-123') as PatientId;
    expect(Object.values(id)).toStrictEqual(['PatientId']);
    expect(JSON.stringify(structuredClone(id))).not.toContain('abc-123');
    expect(Object.isFrozen(id)).toBe(true);
  });

  it('reveals the raw value only through the phi entry point', () => {
    fc.assert(fc.property(fhirId, (raw) => revealPatientId(PatientId.fromString(raw) as PatientId) === raw));
  });

  it('accepts the FHIR id grammar and nothing else', () => {
    for (const ok of ['a', 'A-1.b', 'x'.repeat(64), '4e122e91-c63f-4112-a778-6ccf5abfd6f2']) {
      expect(E.isRight(parsePatientId(ok))).toBe(true);
    }
    for (const bad of ['', 'x'.repeat(65), '../Observation', 'a?b=c', 'a/b', 'a b', 'é', 'a\n', '%41', '.', '..', '...']) {
      expect(parsePatientId(bad)).toStrictEqual(E.left('not_a_fhir_id'));
    }
  });

  it('refuses to reveal an object that only looks like a PatientId', () => {
    const forged = Object.create(PatientId.prototype) as PatientId;
    expect(() => revealPatientId(forged)).toThrow(TypeError);
  });
});
