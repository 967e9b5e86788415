// Publishing: one version for every package, publishable packages well-formed, and the server's
// tarball (`pnpm pack`) self-contained — it installs into an empty folder with no registry and runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER = join(REPO, 'packages/server');
const PUBLISHED_LIBRARIES = ['core', 'fhir-files', 'fhir-http', 'audit-file', 'mcp-stdio', 'phi-sweep', 'keys-kms', 'audit-cloudwatch', 'fhir-healthlake'];
const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;

describe('packaging', () => {
  it('gives every package the root version', async () => {
    const { version } = await readJson(join(REPO, 'package.json'));
    for (const dir of ['packages', 'examples']) {
      for (const name of await readdir(join(REPO, dir))) {
        if (!(await readdir(join(REPO, dir, name))).includes('package.json')) continue; // e.g. examples/aws: configuration only
        expect([`${dir}/${name}`, (await readJson(join(REPO, dir, name, 'package.json'))).version]).toStrictEqual([`${dir}/${name}`, version]);
      }
    }
  });

  it('declares files, exports, types and engines (Node >= 20) for every published library', async () => {
    for (const name of PUBLISHED_LIBRARIES) {
      const pkg = await readJson(join(REPO, 'packages', name, 'package.json'));
      expect(pkg.private).toBeUndefined();
      expect(pkg.files).toContain('dist');
      expect(pkg.files).toContain('!dist/**/*.test.*');
      expect(pkg.types).toBe('./dist/index.d.ts');
      expect((pkg.exports as Record<string, unknown>)['.']).toMatchObject({ types: './dist/index.d.ts', default: './dist/index.js' });
      expect((pkg.engines as { node: string }).node).toMatch(/^>=20/);
    }
  });

  it('packs each library with its compiled code and types only (and fhir-files with its synthetic data)', { timeout: 120_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'pack-libs-'));
    for (const name of PUBLISHED_LIBRARIES) {
      execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: join(REPO, 'packages', name), stdio: 'ignore' });
      const tarball = join(out, (await readdir(out)).find((f) => f.startsWith(`hipaa-fhir-mcp-${name}-`)) as string);
      const entries = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((e) => e.replace(/^package\//, ''));
      expect([name, entries]).toEqual([name, expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts'])]);
      expect([name, entries.filter((e) => /\.map$|\.test\.|^src\/|tsbuildinfo|fixtures/.test(e))]).toStrictEqual([name, []]);
      if (name === 'fhir-files') expect(entries.filter((e) => /^data\/synthea\/.+\.json$/.test(e))).toHaveLength(5);
    }
  });

  it('packs the server as one self-contained file that installs offline and runs', { timeout: 120_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'pack-'));
    execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: SERVER, stdio: 'ignore' });
    const tarball = join(out, (await readdir(out)).find((f) => f.endsWith('.tgz')) as string);
    const entries = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((e) => e.replace(/^package\//, ''));
    expect(entries).toContain('dist/hipaa-fhir-mcp.mjs');
    expect(entries.filter((e) => /^dist\/data\/synthea\/.+\.json$/.test(e))).toHaveLength(5);
    expect(entries).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'CHANGELOG.md', 'dist/data/LICENSE-Apache-2.0.txt']));
    expect(entries.filter((e) => /\.map$|\.test\.|^src\/|\.ts$|fixtures/.test(e))).toStrictEqual([]);

    const packed = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(packed.dependencies).toBeUndefined();
    expect(packed.exports).toStrictEqual({ './package.json': './package.json' });

    const empty = await mkdtemp(join(tmpdir(), 'install-'));
    await writeFile(join(empty, 'package.json'), '{"name":"consumer","version":"1.0.0","private":true}\n');
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: empty, stdio: 'ignore' });
    const version = spawnSync('npx', ['--offline', 'hipaa-fhir-mcp', '--version'], { cwd: empty, encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout).toBe('');
    // npx may print its own config warnings first; the server's line is the last.
    const serverVersion = (await readJson(join(SERVER, 'package.json'))).version;
    expect(`\n${version.stderr}`.endsWith(`\n${serverVersion}\n`)).toBe(true);
    const help = spawnSync(join(empty, 'node_modules/.bin/hipaa-fhir-mcp'), ['--help'], { encoding: 'utf8' });
    expect(help.stdout).toBe('');
    expect(help.stderr).toContain('AUDIT_HMAC_KEY');

    // The default configuration serves with no AWS package installed at all.
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
    const client = new Client({ name: 'installed', version: '0' });
    await client.connect(
      new StdioClientTransport({
        command: join(empty, 'node_modules/.bin/hipaa-fhir-mcp'),
        args: [],
        cwd: empty,
        env: { PATH: process.env.PATH ?? '', AUDIT_HMAC_KEY: 'ab'.repeat(32), AUDIT_LOG_FILE: join(empty, 'audit.jsonl') },
        stderr: 'ignore',
      }),
    );
    const call = await client.callTool({ name: 'get_patient', arguments: { patient_id: 'd66b5418-06cb-fc8a-8c13-85685b6ac939' } });
    await client.close();
    expect(call.isError).toBeFalsy();
    expect(await readdir(join(empty, 'node_modules'))).not.toContain('@aws-sdk');

    // The AWS SDK is an optional peer: without it, KEY_PROVIDER=kms says what to install.
    let refused: { status: number; stderr: string } = { status: 0, stderr: '' };
    try {
      execFileSync(join(empty, 'node_modules/.bin/hipaa-fhir-mcp'), [], {
        cwd: empty,
        env: { PATH: process.env.PATH ?? '', KEY_PROVIDER: 'kms', AUDIT_HMAC_KEY_CIPHERTEXT: 'AQIDBA==', AUDIT_LOG_FILE: join(empty, 'audit.jsonl') },
        stdio: 'pipe',
        encoding: 'utf8',
      });
    } catch (error) {
      refused = error as { status: number; stderr: string };
    }
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('KEY_PROVIDER: is kms, which needs the AWS SDK KMS client beside the server: npm install @aws-sdk/client-kms');
  });
});
