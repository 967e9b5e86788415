import { describe, expect, it } from 'vitest';
import { loincCodeValue, normaliseLoincCode } from './LoincCode.js';

describe('normaliseLoincCode', () => {
  it('turns a bare code or a loinc token into the token', () => {
    expect(normaliseLoincCode('8867-4')).toBe('http://loinc.org|8867-4');
    expect(normaliseLoincCode('http://loinc.org|8867-4')).toBe('http://loinc.org|8867-4');
    expect(normaliseLoincCode('1234567-8')).toBe('http://loinc.org|1234567-8');
    expect(loincCodeValue(normaliseLoincCode('29463-7') ?? ('' as never))).toBe('29463-7');
  });

  it('rejects other systems, modifiers, lists, blanks and non-codes', () => {
    for (const bad of [
      '',
      '8867',
      '8867-45',
      '12345678-9',
      ' 8867-4',
      '8867-4,8302-2',
      '|8867-4',
      'http://snomed.info/sct|8867-4',
      'https://loinc.org|8867-4',
      'http://loinc.org|',
      'http://loinc.org|8867-4|x',
      'LP12345-6',
      '٨٨٦٧-٤',
    ]) {
      expect(normaliseLoincCode(bad)).toBeUndefined();
    }
  });
});
