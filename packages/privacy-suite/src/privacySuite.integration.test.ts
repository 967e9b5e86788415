import { describe, expect, it } from 'vitest';
import { formatReport, runPrivacySuite } from './privacySuite.js';

describe('the adversarial privacy suite', { timeout: 240_000 }, () => {
  it('finds no identifier in any sink, one audit record per call, and only JSON-RPC on stdout', async () => {
    const report = await runPrivacySuite({ generatedCalls: 150 });
    process.stderr.write(`\n${formatReport(report)}\n`);
    expect(report.hits).toBe(0);
    expect(report.nonProtocolStdout).toBe(0);
    expect(report.failedClosed).toBeGreaterThan(0);
    expect(report.succeeded).toBeGreaterThan(48);
    // Every call wrote exactly one record, except those refused because their record could not be written.
    expect(report.records).toBe(report.calls - report.failedClosed);
    expect(report.unmatchedRequestIds).toBe(0); // each answered call has exactly its own record
    expect(report.identifiersSwept).toBeGreaterThan(150);
    expect(report.cacheHits).toBeGreaterThanOrEqual(48); // the second round of every tool for every patient
    expect(report.cacheFiles).toBeGreaterThanOrEqual(48);
    for (const sink of ['audit log', 'stderr', 'error texts', 'cache files']) expect(report.sinks.find((s) => s.sink === sink)?.bytes).toBeGreaterThan(1000);
  });

  it('catches a planted leak (an adapter that logs its request paths) and names the sink', async () => {
    const report = await runPrivacySuite({ generatedCalls: 5, plantLeak: true, quick: true });
    expect(report.hits).toBeGreaterThan(0);
    expect(report.sinks.find((s) => s.sink === 'stderr')?.hits.length).toBeGreaterThan(0);
    expect(report.sinks.filter((s) => s.hits.length > 0).map((s) => s.sink)).toStrictEqual(['stderr']);
    expect(formatReport(report)).toMatch(/HIT in stderr \(server stderr\) line \d+: identifier \(patient-id/);
  });
});
