import { defineProject } from 'vitest/config';

export default defineProject({
  ssr: { resolve: { conditions: ['@hipaa-fhir-mcp/source'] } },
  test: { name: 'example-claude-desktop', include: ['src/**/*.test.ts'] },
});
