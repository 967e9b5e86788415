import { defineProject } from 'vitest/config';

export default defineProject({
  ssr: { resolve: { conditions: ['@hipaa-fhir-mcp/source'] } },
  test: { name: 'aws-local-endpoints', include: ['src/**/*.test.ts'] },
});
