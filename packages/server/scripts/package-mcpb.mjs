// `pnpm package:mcpb`: the Claude Desktop extension. Stages the single-file server with its embedded
// data and the manifest (its version taken from package.json), validates it, and packs
// dist/hipaa-fhir-mcp.mcpb. Run after the build.
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stage = `${root}dist/mcpb`;
const mcpb = `${root}node_modules/.bin/mcpb`;
const { version } = JSON.parse(await readFile(`${root}package.json`, 'utf8'));
const manifest = JSON.parse(await readFile(`${root}mcpb/manifest.json`, 'utf8'));

await rm(stage, { recursive: true, force: true });
await mkdir(`${stage}/server`, { recursive: true });
await writeFile(`${stage}/manifest.json`, `${JSON.stringify({ ...manifest, version }, null, 2)}\n`);
await cp(`${root}dist/hipaa-fhir-mcp.mjs`, `${stage}/server/hipaa-fhir-mcp.mjs`);
await cp(`${root}dist/data`, `${stage}/server/data`, { recursive: true });
await cp(`${root}../../LICENSE`, `${stage}/LICENSE`);
execFileSync(mcpb, ['validate', `${stage}/manifest.json`], { stdio: ['ignore', 'ignore', 'inherit'] });
execFileSync(mcpb, ['pack', stage, `${root}dist/hipaa-fhir-mcp.mcpb`], { stdio: ['ignore', 'ignore', 'inherit'] });
process.stderr.write(`packed ${root}dist/hipaa-fhir-mcp.mcpb (version ${version})\n`);
