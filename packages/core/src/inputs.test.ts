import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { invalidInput } from './errors.js';
import { decodeToolInput, GetPatientInput, SearchObservationsInput } from './inputs.js';
import { revealPatientId } from './phi.js';

const decodePatient = decodeToolInput(GetPatientInput);
const decodeSearch = decodeToolInput(SearchObservationsInput);

describe('decodeToolInput', () => {
  it('decodes valid arguments into a redacted id and a normalised code', () => {
    const decoded = decodeSearch({ patient_id: 'abc-1', code: '8867-4' });
    if (E.isLeft(decoded)) throw new Error('expected Right');
    expect(revealPatientId(decoded.right.patient_id)).toBe('abc-1');
    expect(decoded.right.code).toBe('http://loinc.org|8867-4');
  });

  it('names the first bad field, in declaration order', () => {
    expect(decodeSearch({ patient_id: '../Observation', code: 'nope' })).toStrictEqual(E.left(invalidInput('patient_id')));
    expect(decodeSearch({ patient_id: 'ok', code: 'nope' })).toStrictEqual(E.left(invalidInput('code')));
    expect(decodeSearch({ patient_id: 'ok' })).toStrictEqual(E.left(invalidInput('code')));
    expect(decodePatient({})).toStrictEqual(E.left(invalidInput('patient_id')));
    expect(decodePatient({ patient_id: 42 })).toStrictEqual(E.left(invalidInput('patient_id')));
  });

  it('rejects anything but a plain object with exactly the known fields', () => {
    for (const raw of [undefined, null, 'abc', 42, ['abc'], { patient_id: 'ok', extra: 1 }, JSON.parse('{"patient_id":"ok","__proto__":{}}')]) {
      expect(decodePatient(raw)).toStrictEqual(E.left(invalidInput('arguments')));
    }
  });

  it('never carries the offending value in the error', () => {
    const secret = 'Jane Doe, born in 1985';
    const result = decodeSearch({ patient_id: secret, code: `${secret}|x` });
    expect(JSON.stringify(result)).not.toContain(secret);
  });
});
