// The patient's FHIR id as an opaque value that prints as `<redacted:PatientId>` through String(),
// template strings, JSON.stringify and util.inspect. Only `revealPatientId` (the `/phi` entry) reads it.
import * as E from 'fp-ts/lib/Either.js';

/**
 * FHIR R4 id grammar (https://hl7.org/fhir/R4/datatypes.html#id), less ids made only of dots: `.` and
 * `..` are URL dot-segments, so `Patient/..` would resolve to the server's base (path traversal).
 */
const FHIR_ID = /^(?!\.+$)[A-Za-z0-9\-.]{1,64}$/;
const REDACTED = '<redacted:PatientId>';

// The raw value lives outside the object, so no serialiser or debugger walk of the object finds it.
const rawValues = new WeakMap<PatientId, string>();

/** A validated FHIR patient id whose value cannot be printed by accident. */
export class PatientId {
  readonly _tag = 'PatientId' as const;

  private constructor() {
    Object.freeze(this);
  }

  /** @phi Wraps a raw id; `undefined` when the text is not a FHIR id. */
  static fromString(raw: string): PatientId | undefined {
    if (!FHIR_ID.test(raw)) return undefined;
    const id = new PatientId();
    rawValues.set(id, raw);
    return id;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/** Whether two ids are the same patient's, compared without either value leaving this module. */
export const samePatient = (a: PatientId, b: PatientId): boolean => unsafeRawPatientId(a) === unsafeRawPatientId(b);

/** @phi Parses a FHIR id; the error never carries the value. */
export const parsePatientId = (raw: string): E.Either<'not_a_fhir_id', PatientId> => {
  const id = PatientId.fromString(raw);
  return id === undefined ? E.left('not_a_fhir_id') : E.right(id);
};

/** @phi The raw id. Exported to adapters only through `@hipaa-fhir-mcp/core/phi`. */
export const unsafeRawPatientId = (id: PatientId): string => {
  const raw = rawValues.get(id);
  if (raw === undefined) throw new TypeError('Not a PatientId made by PatientId.fromString');
  return raw;
};
