import { auditSinkContract } from './contracts.js';
import { makeMemoryAuditSink } from './memoryAdapters.js';

auditSinkContract('memory', async () => {
  const sink = makeMemoryAuditSink();
  return { sink, readBack: async () => sink.records, close: sink.close };
});
