#!/usr/bin/env node
// phi-sweep [--exemptions FILE] [--identifiers-from DIR]… [--allow-label LABEL]… PATH…: sweeps files
// for identifier shapes and, with --identifiers-from, for the literal identifiers of the patients in
// DIR's FHIR Bundles; --allow-label leaves one kind of identifier out (e.g. synthetic patient ids in tests).
// Prints `path:line:column kind` per finding (never the text found) on stderr — stdout stays free,
// as it is for every tool of this project — and exits 1 if there is any.
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join, relative, resolve } from 'node:path';
import { type Finding, findIdentifiers, findShapes, type Identifier, identifiersOfBundle } from './sweep.js';

interface Exemption {
  readonly path: string;
  readonly reason: string;
}

const SKIPPED_DIRS = new Set(['.git', 'node_modules']);

const usage = 'usage: phi-sweep [--git] [--exemptions FILE] [--identifiers-from DIR]… [--allow-label LABEL]… PATH…';

/** The files git would commit under `root`: tracked, and untracked but not ignored (no build output). */
const gitFiles = async (root: string): Promise<string[]> => {
  const { stdout } = await promisify(execFile)('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\0').filter((name) => name !== '');
};

const walk = async (path: string, out: string[]): Promise<void> => {
  const info = await stat(path);
  if (info.isFile()) {
    out.push(path);
    return;
  }
  if (!info.isDirectory()) return;
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isDirectory() && SKIPPED_DIRS.has(entry.name)) continue;
    if (entry.isDirectory() || entry.isFile()) await walk(join(path, entry.name), out);
  }
};

const loadIdentifiers = async (dir: string): Promise<Identifier[]> => {
  const identifiers: Identifier[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.json')).sort()) {
    const parsed = JSON.parse(await readFile(join(dir, name), 'utf8')) as { resourceType?: string; entry?: { resource?: unknown }[] };
    if (parsed.resourceType === 'Bundle') identifiers.push(...identifiersOfBundle(parsed));
  }
  return identifiers;
};

export interface SweepReport {
  readonly files: number;
  readonly bytes: number;
  readonly findings: readonly (Finding & { readonly path: string })[];
  readonly exempted: readonly Exemption[];
}

/** Sweeps `paths`; exempted paths (relative to `root`) are skipped and listed with their reason. */
export const sweepPaths = async (
  paths: readonly string[],
  options: { readonly root: string; readonly exemptions?: readonly Exemption[]; readonly identifiers?: readonly Identifier[] },
): Promise<SweepReport> => {
  const files: string[] = [];
  for (const path of paths) await walk(resolve(options.root, path), files);
  const exemptions = options.exemptions ?? [];
  const exempted = new Set<Exemption>();
  const findings: (Finding & { path: string })[] = [];
  let bytes = 0;
  let swept = 0;
  for (const file of files) {
    const path = relative(options.root, file);
    const exemption = exemptions.find((e) => path === e.path || path.startsWith(e.path.endsWith('/') ? e.path : `${e.path}/`));
    if (exemption !== undefined) {
      exempted.add(exemption);
      continue;
    }
    const content = await readFile(file);
    if (content.subarray(0, 8192).includes(0)) continue; // binary
    const text = content.toString('utf8');
    bytes += content.length;
    swept++;
    for (const finding of [...findShapes(text), ...findIdentifiers(text, options.identifiers ?? [])]) findings.push({ path, ...finding });
  }
  return { files: swept, bytes, findings, exempted: [...exempted] };
};

const main = async (argv: readonly string[]): Promise<number> => {
  const paths: string[] = [];
  let exemptionsFile: string | undefined;
  const identifierDirs: string[] = [];
  const allowedLabels = new Set<string>();
  let git = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--git') git = true;
    else if (arg === '--exemptions') exemptionsFile = argv[++i];
    else if (arg === '--identifiers-from') identifierDirs.push(argv[++i] ?? '');
    else if (arg === '--allow-label') allowedLabels.add(argv[++i] ?? '');
    else if (arg.startsWith('-')) {
      process.stderr.write(`${usage}\n`);
      return 2;
    } else paths.push(arg);
  }
  const root = process.cwd();
  if (git) {
    const listed = await gitFiles(root).catch(() => []);
    if (listed.length === 0) {
      process.stderr.write('phi-sweep: --git found no files (not a git work tree?)\n');
      return 2;
    }
    paths.push(...listed);
  }
  if (paths.length === 0) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const exemptions = exemptionsFile === undefined ? [] : (JSON.parse(await readFile(exemptionsFile, 'utf8')) as { exemptions: Exemption[] }).exemptions;
  const identifiers = (await Promise.all(identifierDirs.map(loadIdentifiers)))
    .flat()
    .filter((identifier) => !identifier.label.split('/').some((label) => allowedLabels.has(label)));
  const report = await sweepPaths(paths, { root, exemptions, identifiers });
  for (const e of report.exempted) process.stderr.write(`exempt: ${e.path} (${e.reason})\n`);
  for (const f of report.findings) process.stderr.write(`${f.path}:${f.line}:${f.column} ${f.kind}${f.label === undefined ? '' : ` (${f.label})`}\n`);
  process.stderr.write(
    `phi-sweep: ${report.files} files, ${report.bytes} bytes swept` +
      (identifierDirs.length === 0 ? '' : `, ${identifiers.length} literal identifiers`) +
      `; ${report.findings.length} findings\n`,
  );
  return report.findings.length === 0 ? 0 : 1;
};

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = await main(process.argv.slice(2));
}
