// Serves an MCP server over stdio. stdout carries JSON-RPC only. When stdin ends, every request
// already received is still answered before the returned promise resolves, so the caller can exit.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Readable, Writable } from 'node:stream';
import type { FhirMcpServer } from './mcpServer.js';

export interface StdioIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
}

type RequestId = string | number;
const isRequest = (m: JSONRPCMessage): m is JSONRPCMessage & { id: RequestId; method: string } => 'method' in m && 'id' in m;
const isResponse = (m: JSONRPCMessage): m is JSONRPCMessage & { id: RequestId } => !('method' in m) && 'id' in m;

/**
 * Connects `mcp` to stdin/stdout and resolves once stdin has ended and every request received has
 * been answered. Transport errors (a line that is not JSON, say) are reported by class only: their
 * messages quote the offending input.
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

  // Count what is owed: requests in, responses out.
  const unanswered = new Set<RequestId>();
  let allAnswered: (() => void) | undefined;
  const receive = transport.onmessage;
  transport.onmessage = (...args: Parameters<NonNullable<typeof receive>>) => {
    if (isRequest(args[0])) unanswered.add(args[0].id);
    receive?.(...args);
  };
  const send = transport.send.bind(transport);
  transport.send = async (...args: Parameters<typeof send>) => {
    await send(...args);
    const [message] = args;
    if (isResponse(message) && unanswered.delete(message.id) && unanswered.size === 0) allAnswered?.();
  };

  await ended;
  if (unanswered.size > 0) await new Promise<void>((resolve) => (allAnswered = resolve));
  await mcp.server.close();
};
