import { defineProject } from 'vitest/config';

export default defineProject({
  ssr: { resolve: { conditions: ['@hipaa-fhir-mcp/source'] } },
  test: { name: 'example-oauth-authorization-server', include: ['src/**/*.test.ts'] },
});
