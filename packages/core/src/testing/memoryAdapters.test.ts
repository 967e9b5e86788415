import { auditSinkContract, phiCacheContract } from './contracts.js';
import { makeMemoryAuditSink, makeMemoryPhiCache } from './memoryAdapters.js';

auditSinkContract('memory', async () => {
  const sink = makeMemoryAuditSink();
  return { sink, readBack: async () => sink.records, close: sink.close };
});

phiCacheContract('memory', async () => {
  let now = 1_000_000;
  const ttlMs = 60_000;
  return { cache: makeMemoryPhiCache({ ttlMs, now: () => now }), advanceMs: (ms) => void (now += ms), ttlMs, close: async () => undefined };
});
