// The dependency rules of the hexagon, checked on the source: the core stays pure, and only FHIR
// adapters may import the one door to a plaintext patient id (`@hipaa-fhir-mcp/core/phi`).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const PACKAGES = new URL('../../', import.meta.url).pathname;
const EXAMPLES = new URL('../../../examples/', import.meta.url).pathname;

const sourceFiles = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
};

// Static imports and re-exports, side-effect imports, and dynamic import() — not prose in comments.
const IMPORT_FORMS = [
  /^\s*(?:import|export)\s[^;]*?\bfrom\s*(['"])([^'"]+)\1/gm,
  /^\s*import\s*(['"])([^'"]+)\1/gm,
  /\bimport\(\s*(['"`])([^'"`]+)\1\s*\)/g,
];
const importsOf = (source: string): string[] => IMPORT_FORMS.flatMap((form) => [...source.matchAll(form)].map((m) => m[2] as string));

describe('architecture', () => {
  it('core imports nothing but fp-ts, io-ts, @noble/hashes, vitest (testing only) and itself', async () => {
    for (const file of await sourceFiles(join(PACKAGES, 'core/src'))) {
      for (const spec of importsOf(await readFile(file, 'utf8'))) {
        const allowed =
          spec.startsWith('.') ||
          /^(fp-ts|io-ts)(\/|$)/.test(spec) ||
          spec.startsWith('@noble/hashes/') ||
          (spec === 'vitest' && file.includes('/testing/'));
        expect(allowed, `${file} imports ${spec}`).toBe(true);
      }
    }
  });

  it('only FHIR adapters import @hipaa-fhir-mcp/core/phi (examples and tests included)', async () => {
    const dirs = [
      ...(await readdir(PACKAGES)).filter((name) => name !== 'core').map((name) => [name, join(PACKAGES, name, 'src')]),
      ...(await readdir(EXAMPLES)).map((name) => [`examples/${name}`, join(EXAMPLES, name, 'src')]),
    ];
    const importers: string[] = [];
    for (const [name, dir] of dirs) {
      const entries = await readdir(dir as string, { withFileTypes: true, recursive: true }).catch(() => []);
      for (const entry of entries.filter((e) => e.isFile() && e.name.endsWith('.ts'))) {
        const file = join(entry.parentPath, entry.name);
        const source = await readFile(file, 'utf8');
        // Tests of adapters may reveal ids to check them; no production module outside fhir-* may.
        if (importsOf(source).includes('@hipaa-fhir-mcp/core/phi') && !(entry.name.endsWith('.test.ts') && name?.startsWith('fhir-'))) {
          importers.push(name as string);
        }
      }
    }
    expect([...new Set(importers)].every((name) => name.startsWith('fhir-'))).toBe(true);
    expect(importers).toContain('fhir-files');
  });

  it('catches a violation (the rule is not vacuous)', () => {
    const door = ['@hipaa-fhir-mcp', 'core', 'phi'].join('/'); // not written out, or this file would import it
    expect(importsOf(`import { revealPatientId } from '${door}';\nimport got from "got";\nawait import(\`node:fs\`);`)).toStrictEqual([
      door,
      'got',
      'node:fs',
    ]);
  });
});
