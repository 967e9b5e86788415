// @hipaa-fhir-mcp/mcp-http: the three tools over MCP Streamable HTTP (stateless), as an OAuth 2.1
// resource server whose tokens' SMART scopes and patient context the core enforces per tool.
export { grantIdentity } from './grantIdentity.js';
export { type McpHttpConfig, type McpHttpServer, type Refusal, startMcpHttpServer } from './httpServer.js';
export { makeTokenVerifier, type OAuthResourceConfig, type TokenCheck, type TokenVerifier } from './tokenVerifier.js';
