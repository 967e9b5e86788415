// A LOINC code as a FHIR token `http://loinc.org|<code>`. Accepts the bare code or the token;
// anything else (another system, a modifier, a list) is rejected rather than guessed at.
import * as t from 'io-ts';

export const LOINC_SYSTEM = 'http://loinc.org';

// LOINC codes are 1-7 digits, a hyphen and a mod-10 check digit (https://loinc.org/kb/faq/structure/).
const LOINC_CODE = /^\d{1,7}-\d$/;

export interface LoincCodeBrand {
  readonly LoincCode: unique symbol;
}

/** The normalised search token, e.g. `http://loinc.org|8867-4`. */
export type LoincCode = t.Branded<string, LoincCodeBrand>;

/** Normalises `8867-4` or `http://loinc.org|8867-4` to the token; `undefined` for anything else. */
export const normaliseLoincCode = (raw: string): LoincCode | undefined => {
  const bar = raw.indexOf('|');
  const system = bar === -1 ? LOINC_SYSTEM : raw.slice(0, bar);
  const code = bar === -1 ? raw : raw.slice(bar + 1);
  if (system !== LOINC_SYSTEM || !LOINC_CODE.test(code)) return undefined;
  return `${LOINC_SYSTEM}|${code}` as LoincCode;
};

/** The code part of a normalised token (`8867-4`). */
export const loincCodeValue = (code: LoincCode): string => code.slice(LOINC_SYSTEM.length + 1);
