// @hipaa-fhir-mcp/mcp-stdio: the three tools as an MCP server (SDK 1.x), and the stdio transport.
export { createMcpServer, type FhirMcpServer, type McpServerConfig, runToolCall, type ToolCallEvent } from './mcpServer.js';
export { serveStdio, type StdioIo } from './stdio.js';
export { TOOL_DEFINITIONS } from './toolDefinitions.js';
export { errorText, toToolResult } from './toolResult.js';
