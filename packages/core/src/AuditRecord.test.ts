import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { checkAuditRecord } from './AuditRecord.js';
import { sampleAuditRecord } from './testing/contracts.js';

describe('checkAuditRecord', () => {
  it('accepts a well-formed record', () => {
    const record = sampleAuditRecord(1, { patient_id_hmac: 'a'.repeat(64) as never, caller_identity: 'dr.who@example.org' as never });
    expect(checkAuditRecord(record)).toStrictEqual(E.right(record));
    for (const data_source of ['cache', 'fhir'] as const) {
      expect(checkAuditRecord({ ...record, data_source })).toStrictEqual(E.right({ ...record, data_source }));
    }
    const failed = sampleAuditRecord(2, { status: 'error', error_code: 'fhir_timeout' });
    expect(checkAuditRecord(failed)).toStrictEqual(E.right({ ...failed, data_source: null }));
  });

  it('refuses extra keys, missing keys, reordered keys and open values', () => {
    const good = sampleAuditRecord(1);
    const { error_code: _dropped, ...missing } = good;
    const reordered = Object.fromEntries(Object.entries(good).reverse());
    const bad: unknown[] = [
      { ...good, patient_id: 'abc' },
      missing,
      reordered,
      { ...good, patient_id_hmac: 'abc' },
      { ...good, patient_id_hmac: 'A'.repeat(64) },
      { ...good, status: 'ok' },
      { ...good, error_code: 'disk on fire' },
      { ...good, status: 'error', error_code: null },
      { ...good, error_code: 'internal_error' },
      { ...good, data_source: null },
      { ...good, data_source: 'disk' },
      { ...good, status: 'error', error_code: 'internal_error', data_source: 'fhir' },
      { ...good, status: 'error', error_code: 'internal_error', data_source: 'cache' },
      { ...good, tool: 'delete_patient' },
      { ...good, request_id: 'abc-123' },
      { ...good, caller_identity: 'line\nbreak' },
      { ...good, caller_identity: '' },
      { ...good, timestamp: '2026-01-02' },
      null,
      [],
    ];
    for (const record of bad) expect(checkAuditRecord(record)).toStrictEqual(E.left('rejected'));
  });
});
