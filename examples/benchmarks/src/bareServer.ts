// The MCP floor for `pnpm bench`: a bare SDK server over stdio with one tool that answers a constant.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const server = new McpServer({ name: 'bare', version: '0.0.0' });
server.registerTool('echo', { description: 'Answers a constant.' }, async () => ({ content: [{ type: 'text', text: '{"ok":true}' }] }));
await server.connect(new StdioServerTransport());
