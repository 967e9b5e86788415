// The Claude Desktop extension: packed by `pnpm package:mcpb`, validated by the mcpb tool, then
// unpacked and started exactly as its manifest says, with the user's settings filled in.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MCPB = join(ROOT, 'node_modules/.bin/mcpb');

interface Manifest {
  version: string;
  server: { mcp_config: { command: string; args: string[]; env: Record<string, string> } };
  user_config: Record<string, { sensitive?: boolean; required?: boolean }>;
}

it('packs a bundle the mcpb tool validates, whose server starts and answers as the manifest says', { timeout: 60_000 }, async () => {
  execFileSync(process.execPath, [join(ROOT, 'scripts/package-mcpb.mjs')], { stdio: 'ignore' });
  const unpacked = await mkdtemp(join(tmpdir(), 'mcpb-'));
  execFileSync(MCPB, ['unpack', join(ROOT, 'dist/hipaa-fhir-mcp.mcpb'), unpacked], { stdio: 'ignore' });
  execFileSync(MCPB, ['validate', join(unpacked, 'manifest.json')], { stdio: 'ignore' });

  const manifest = JSON.parse(await readFile(join(unpacked, 'manifest.json'), 'utf8')) as Manifest;
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  expect(manifest.version).toBe(pkg.version);
  expect(manifest.user_config.hmac_key).toMatchObject({ sensitive: true, required: true });
  expect(Object.keys(manifest.server.mcp_config.env).sort()).toStrictEqual(['AUDIT_HMAC_KEY', 'AUDIT_LOG_FILE', 'CALLER_IDENTITY', 'FHIR_BASE_URL']);

  // What Claude Desktop does: fill in ${__dirname} and the user's settings (an empty FHIR URL: embedded data).
  const auditLog = join(await mkdtemp(join(tmpdir(), 'mcpb-audit-')), 'audit.jsonl');
  const settings: Record<string, string> = { fhir_base_url: '', audit_log_file: auditLog, hmac_key: randomBytes(32).toString('hex'), caller_identity: '' };
  const fill = (value: string) => value.replaceAll('${__dirname}', unpacked).replace(/\$\{user_config\.(\w+)\}/g, (_, name: string) => settings[name] ?? '');
  const config = manifest.server.mcp_config;
  const client = new Client({ name: 'claude-desktop-stand-in', version: '0' });
  await client.connect(
    new StdioClientTransport({
      command: config.command === 'node' ? process.execPath : config.command,
      args: config.args.map(fill),
      env: Object.fromEntries(Object.entries(config.env).map(([k, v]) => [k, fill(v)])),
      stderr: 'ignore',
    }),
  );
  expect((await client.listTools()).tools.map((t) => t.name)).toStrictEqual(['get_patient', 'search_observations', 'get_medication_list']);
  const result = await client.callTool({ name: 'get_medication_list', arguments: { patient_id: 'd66b5418-06cb-fc8a-8c13-85685b6ac939' } });
  await client.close();
  expect((result.structuredContent as { medications: unknown[] }).medications).toHaveLength(3);
  expect(JSON.parse(await readFile(auditLog, 'utf8'))).toMatchObject({ tool: 'get_medication_list', status: 'success', seq: 1 });
});
