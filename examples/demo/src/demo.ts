// `pnpm demo`: runs the demo and prints what the model saw and the audit check table.
// Exits 1 if any check fails, so the demo doubles as a smoke test.
import { formatTable, runDemo } from './runDemo.js';

const result = await runDemo();
process.stdout.write('hipaa-fhir-mcp demo: the real server over stdio, embedded synthetic data, a throwaway key\n\n');
for (const line of result.transcript) process.stdout.write(`  ${line}\n`);
process.stdout.write(`\n${formatTable(result.checks)}\n\naudit log: ${result.auditLog}\n`);
process.exitCode = result.checks.every((c) => c.ok) ? 0 : 1;
