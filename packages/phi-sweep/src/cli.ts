#!/usr/bin/env node
// phi-sweep [--exemptions FILE] [--identifiers-from DIR] PATH…: sweeps files for identifier shapes
// and, with --identifiers-from, for the literal identifiers of the patients in DIR's FHIR Bundles.
// Prints `path:line:column kind` per finding (never the text found) and exits 1 if there is any.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { type Finding, findIdentifiers, findShapes, type Identifier, identifiersOfBundle } from './sweep.js';

interface Exemption {
  readonly path: string;
  readonly reason: string;
}

const SKIPPED_DIRS = new Set(['.git', 'node_modules']);

const usage = 'usage: phi-sweep [--exemptions FILE] [--identifiers-from DIR] PATH…';

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
  let identifiersDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--exemptions') exemptionsFile = argv[++i];
    else if (arg === '--identifiers-from') identifiersDir = argv[++i];
    else if (arg.startsWith('-')) {
      process.stderr.write(`${usage}\n`);
      return 2;
    } else paths.push(arg);
  }
  if (paths.length === 0) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const root = process.cwd();
  const exemptions = exemptionsFile === undefined ? [] : (JSON.parse(await readFile(exemptionsFile, 'utf8')) as { exemptions: Exemption[] }).exemptions;
  const identifiers = identifiersDir === undefined ? [] : await loadIdentifiers(identifiersDir);
  const report = await sweepPaths(paths, { root, exemptions, identifiers });
  for (const e of report.exempted) process.stdout.write(`exempt: ${e.path} (${e.reason})\n`);
  for (const f of report.findings) process.stdout.write(`${f.path}:${f.line}:${f.column} ${f.kind}${f.label === undefined ? '' : ` (${f.label})`}\n`);
  process.stdout.write(
    `phi-sweep: ${report.files} files, ${report.bytes} bytes swept` +
      (identifiersDir === undefined ? '' : `, ${identifiers.length} literal identifiers`) +
      `; ${report.findings.length} findings\n`,
  );
  return report.findings.length === 0 ? 0 : 1;
};

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = await main(process.argv.slice(2));
}
