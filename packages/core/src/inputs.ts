// io-ts codecs for the three tools' arguments. A failed decode names the first bad field and
// nothing else: io-ts errors carry the offending value, so they are never printed or passed on.
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { type DomainError, type InputField, invalidInput } from './errors.js';
import { type LoincCode, normaliseLoincCode } from './LoincCode.js';
import { PatientId } from './PatientId.js';

/** @phi A FHIR patient id (`[A-Za-z0-9\-.]{1,64}`) decoded into the redacted PatientId. */
export const PatientIdFromString = new t.Type<PatientId, PatientId, unknown>(
  'PatientIdFromString',
  (u): u is PatientId => u instanceof PatientId,
  (u, c) => {
    const id = typeof u === 'string' ? PatientId.fromString(u) : undefined;
    return id === undefined ? t.failure(u, c) : t.success(id);
  },
  (id) => id,
);

/** A LOINC code, bare or as a `http://loinc.org|` token, decoded into the normalised token. */
export const LoincCodeFromString = new t.Type<LoincCode, string, unknown>(
  'LoincCodeFromString',
  (u): u is LoincCode => typeof u === 'string' && normaliseLoincCode(u) === u,
  (u, c) => {
    const code = typeof u === 'string' ? normaliseLoincCode(u) : undefined;
    return code === undefined ? t.failure(u, c) : t.success(code);
  },
  (code) => code,
);

export const GetPatientInput = t.type({ patient_id: PatientIdFromString });
export type GetPatientInput = t.TypeOf<typeof GetPatientInput>;

export const SearchObservationsInput = t.type({ patient_id: PatientIdFromString, code: LoincCodeFromString });
export type SearchObservationsInput = t.TypeOf<typeof SearchObservationsInput>;

export const GetMedicationListInput = t.type({ patient_id: PatientIdFromString });
export type GetMedicationListInput = t.TypeOf<typeof GetMedicationListInput>;

const asInputField = (key: string | undefined): InputField =>
  key === 'patient_id' || key === 'code' ? key : 'arguments';

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === 'object' && u !== null && !Array.isArray(u);

/**
 * Decodes tool arguments exactly: an object with the codec's fields and no others.
 * The error is `InvalidInput` naming the first bad field (or `arguments` for the object itself).
 */
export const decodeToolInput =
  <P extends t.Props>(codec: t.TypeC<P>) =>
  (raw: unknown): E.Either<DomainError, t.TypeOf<t.TypeC<P>>> => {
    if (!isPlainObject(raw)) return E.left(invalidInput('arguments'));
    if (Object.keys(raw).some((key) => !Object.hasOwn(codec.props, key))) return E.left(invalidInput('arguments'));
    const decoded = codec.decode(raw);
    return E.isRight(decoded) ? decoded : E.left(invalidInput(asInputField(decoded.left[0]?.context[1]?.key)));
  };
