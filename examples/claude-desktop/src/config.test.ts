// Starts the server exactly as claude_desktop_config.json says, with its placeholders filled in,
// and calls a tool through the SDK client, as Claude Desktop would.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { expect, it } from 'vitest';

const REPO = new URL('../../../', import.meta.url).pathname.replace(/\/$/, '');

interface DesktopConfig {
  mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }>;
}

it('starts from claude_desktop_config.json and answers a tool call', async () => {
  const auditDir = await mkdtemp(join(tmpdir(), 'desktop-'));
  await writeFile(join(auditDir, 'hmac.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
  const raw = await readFile(new URL('../claude_desktop_config.json', import.meta.url), 'utf8');
  const filled = raw.replaceAll('/ABSOLUTE/PATH/TO/hipaa-fhir-mcp-audit', auditDir).replaceAll('/ABSOLUTE/PATH/TO/hipaa-fhir-mcp', REPO);
  expect(filled).not.toContain('/ABSOLUTE/PATH/TO');
  const server = (JSON.parse(filled) as DesktopConfig).mcpServers['hipaa-fhir-mcp'];
  if (server === undefined) throw new Error('no hipaa-fhir-mcp entry');

  const command = server.command === 'node' ? process.execPath : server.command;
  const client = new Client({ name: 'claude-desktop-stand-in', version: '0.0.0' });
  await client.connect(new StdioClientTransport({ command, args: server.args, env: server.env, cwd: tmpdir(), stderr: 'ignore' }));
  const result = await client.callTool({ name: 'get_patient', arguments: { patient_id: 'd66b5418-06cb-fc8a-8c13-85685b6ac939' } });
  await client.close();
  expect(result.isError).toBeFalsy();
  const log = await readFile(join(auditDir, 'audit.jsonl'), 'utf8');
  expect(JSON.parse(log)).toMatchObject({ tool: 'get_patient', caller_identity: 'your.name@your-organisation.example', status: 'success' });
});
