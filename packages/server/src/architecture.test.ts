// The dependency rules of the hexagon, checked on the source: the core stays pure, and only FHIR
// adapters may import the one door to a plaintext patient id (`@hipaa-fhir-mcp/core/phi`).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const PACKAGES = new URL('../../', import.meta.url).pathname;

const sourceFiles = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
};

const importsOf = (source: string): string[] => [...source.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] as string);

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

  it('only FHIR adapters import @hipaa-fhir-mcp/core/phi', async () => {
    const packages = (await readdir(PACKAGES)).filter((name) => name !== 'core');
    const importers: string[] = [];
    for (const name of packages) {
      for (const file of await sourceFiles(join(PACKAGES, name, 'src'))) {
        if (importsOf(await readFile(file, 'utf8')).includes('@hipaa-fhir-mcp/core/phi')) importers.push(name);
      }
    }
    expect([...new Set(importers)].every((name) => name.startsWith('fhir-'))).toBe(true);
    expect(importers).toContain('fhir-files');
  });

  it('catches a violation (the rule is not vacuous)', () => {
    expect(importsOf("import { revealPatientId } from '@hipaa-fhir-mcp/core/phi';\nimport got from 'got';")).toStrictEqual([
      '@hipaa-fhir-mcp/core/phi',
      'got',
    ]);
  });
});
