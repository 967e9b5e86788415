import { defineProject } from 'vitest/config';

export default defineProject({
  ssr: { resolve: { conditions: ['@hipaa-fhir-mcp/source'] } },
  test: { name: 'identity-spiffe', include: ['src/**/*.test.ts'] },
});
