import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepPaths } from './cli.js';
import { encodedForms, findIdentifiers, findShapes, identifiersOfBundle } from './sweep.js';

// Built at run time so that this file itself holds no identifier shapes.
const ssn = ['123', '45', '6789'].join('-');
const phone = ['555', '867', '5309'].join('-');
const email = ['jane.roe', 'hospital.org'].join('@');
const birthDate = (year: string) => [year, '11', '29'].join('-');

describe('findShapes', () => {
  it('finds SSN, US phone, email, MRN and birth-date shapes, with line and column only', () => {
    const text = `ok line\nssn ${ssn}\ncall (555) ${'867'}-5309 or +1 ${phone}\nmail ${email}\n{"mrn":"${'0012'}3456"}\n{"birthDate": "${birthDate('1985')}"}`;
    const findings = findShapes(text);
    expect(findings.map((f) => [f.kind, f.line])).toStrictEqual([
      ['ssn', 2],
      ['us-phone', 3],
      ['us-phone', 3],
      ['email', 4],
      ['mrn', 5],
      ['birth-date', 6],
    ]);
    expect(findings[0]).toStrictEqual({ kind: 'ssn', line: 2, column: 5 });
    expect(JSON.stringify(findings)).not.toContain('6789');
  });

  it('leaves alone what merely looks close: UUIDs, ISO dates, versions, hashes, reserved example emails', () => {
    const text = [
      '0b6f3c2e-91d4-4a7e-b2c5-7d8e9f001122',
      '2026-01-02T03:04:05.678Z and 2011-07-14',
      'version 10.34.9, 1.32.2',
      'sha 3ed766fc19733ab431e084c4b458a8cd9296b690c94af4ea5cf4b77da13d2999',
      'dr.who@example.org, ops@clinic.test',
      'a birth date field without a value: birthDate',
    ].join('\n');
    expect(findShapes(text)).toStrictEqual([]);
  });
});

describe('literal identifiers', () => {
  const bundle = {
    entry: [
      {
        resource: {
          resourceType: 'Patient',
          id: 'pt-0001',
          identifier: [{ type: { coding: [{ code: 'SS' }] }, value: ssn }, { type: { coding: [{ code: 'MR' }] }, value: 'pt-0001' }],
          name: [{ given: ['Zoë'], family: 'Quiñonez-Arbo' }],
          telecom: [{ system: 'phone', value: phone }],
          address: [{ line: ['12 Main St'], postalCode: '02134' }],
          birthDate: birthDate('2005'),
        },
      },
      { resource: { resourceType: 'Observation', id: 'not-a-patient' } },
    ],
  };

  it('takes every identifier of every Patient, merging equal values', () => {
    expect(identifiersOfBundle(bundle)).toStrictEqual([
      { label: 'patient-id/mrn', value: 'pt-0001' },
      { label: 'ssn', value: ssn },
      { label: 'name', value: 'Zoë Quiñonez-Arbo' },
      { label: 'family-name', value: 'Quiñonez-Arbo' },
      { label: 'phone', value: phone },
      { label: 'address', value: '12 Main St' },
      { label: 'postal-code', value: '02134' },
      { label: 'birth-date', value: birthDate('2005') },
    ]);
  });

  it('finds them plain, URL-encoded, JSON-escaped (also as \\uXXXX), base64 and as bare digits', () => {
    expect(encodedForms('Quiñonez-Arbo').slice(0, 3)).toStrictEqual(['Quiñonez-Arbo', 'Qui%C3%B1onez-Arbo', 'Qui\\u00f1onez-Arbo']);
    const ids = identifiersOfBundle(bundle);
    const text = `GET /Patient?name=Qui%C3%B1onez-Arbo\n{"msg":"12 Main St"}\n{"n":"Zo\\u00eb Qui\\u00f1onez-Arbo"}`;
    expect(findIdentifiers(text, ids).map((f) => [f.label, f.line])).toStrictEqual([
      ['name', 3],
      ['family-name', 1],
      ['family-name', 3],
      ['address', 2],
    ]);
    expect(findIdentifiers(JSON.stringify({ n: 'say "pt-0001"' }), ids)).toHaveLength(1);
    // An SSN, a phone number and a birth date without their separators, as whole tokens.
    const bare = (v: string) => v.replaceAll('-', '');
    expect(findIdentifiers(`ssn=${bare(ssn)} tel:${bare(phone)} dob ${bare(birthDate('2005'))}`, ids).map((f) => f.label)).toStrictEqual(['ssn', 'phone', 'birth-date']);
    expect(findIdentifiers(`hash a0${bare(ssn)}ff`, ids)).toStrictEqual([]);
  });

  it('finds an identifier base64-encoded, alone or at any offset inside a longer base64 text', () => {
    const ids = identifiersOfBundle(bundle);
    const family = 'Quiñonez-Arbo';
    expect(findIdentifiers(`Authorization: Basic ${Buffer.from(family).toString('base64')}`, ids).map((f) => f.label)).toStrictEqual(['family-name']);
    for (const prefix of ['', 'x', 'xy', 'xyz', 'a much longer prefix, ']) {
      const blob = Buffer.from(`${prefix}{"family":"${family}","given":"A"}`).toString('base64');
      expect(findIdentifiers(`token=${blob}`, ids).map((f) => f.label), prefix).toContain('family-name');
      expect(findIdentifiers(`token=${blob.replaceAll('+', '-').replaceAll('/', '_')}`, ids).map((f) => f.label), prefix).toContain('family-name');
    }
    expect(findIdentifiers(`token=${Buffer.from('nothing to see in here at all').toString('base64')}`, ids)).toStrictEqual([]);
  });

  it('counts whole tokens only: a postal code inside a hex hash or a UUID is chance, not a leak', () => {
    const ids = identifiersOfBundle(bundle);
    expect(findIdentifiers('hmac 9f02134ab0 and 5e0213-4 and 0b6f3c2e-02134a', ids)).toStrictEqual([]);
    expect(findIdentifiers('{"zip":"02134"} zip=02134 /Patient/pt-0001/', ids).map((f) => f.label)).toStrictEqual([
      'patient-id/mrn',
      'postal-code',
      'postal-code',
    ]);
    expect(findIdentifiers(`ssn${ssn}x`, ids).map((f) => f.label)).toStrictEqual(['ssn']);
    expect(findIdentifiers('PT-0001 and QUIÑONEZ-ARBO', ids).map((f) => f.label)).toStrictEqual(['patient-id/mrn', 'family-name']);
  });
});

describe('sweepPaths', () => {
  it('sweeps a tree, skips exempt paths with their reason and binary files, and counts bytes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'phi-sweep-'));
    await mkdir(join(root, 'fixtures'));
    await mkdir(join(root, 'node_modules'));
    await writeFile(join(root, 'clean.txt'), 'nothing here\n');
    await writeFile(join(root, 'leak.log'), `line one\nssn=${ssn}\n`);
    await writeFile(join(root, 'fixtures', 'synthetic.json'), `{"ssn":"${ssn}"}`);
    await writeFile(join(root, 'node_modules', 'dep.js'), `// ${ssn}`);
    await writeFile(join(root, 'blob.bin'), Buffer.from([0, 1, 2, ...Buffer.from(ssn)]));
    const report = await sweepPaths(['.'], { root, exemptions: [{ path: 'fixtures', reason: 'synthetic' }] });
    expect(report.findings).toStrictEqual([{ path: 'leak.log', kind: 'ssn', line: 2, column: 5 }]);
    expect(report.exempted).toStrictEqual([{ path: 'fixtures', reason: 'synthetic' }]);
    expect(report.files).toBe(2);
    expect(report.bytes).toBe('nothing here\n'.length + `line one\nssn=${ssn}\n`.length);
  });
});
