// Serves an MCP server over stdio. stdout carries JSON-RPC only. When stdin ends, every tool call
// already received still finishes (and is audited) before the returned promise resolves.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Readable, Writable } from 'node:stream';
import type { FhirMcpServer } from './mcpServer.js';

export interface StdioIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
}

/**
 * Connects `mcp` to stdin/stdout and resolves once stdin has ended and every tool call received has
 * finished (answered, or dropped because the client cancelled it). Transport errors (a line that is
 * not JSON, say) are reported by class only: their messages quote the offending input.
 */
export const serveStdio = async (
  mcp: FhirMcpServer,
  onTransportError: (errorClass: string) => void,
  io: StdioIo = { stdin: process.stdin, stdout: process.stdout },
): Promise<void> => {
  const transport = new StdioServerTransport(io.stdin, io.stdout);
  mcp.server.onerror = (error) => onTransportError(error?.constructor?.name ?? 'Error');
  const ended = new Promise<void>((resolve) => {
    io.stdin.once('end', resolve);
    io.stdin.once('close', resolve);
  });
  await mcp.server.connect(transport);
  await ended;
  await mcp.drain();
  await mcp.server.close();
};
