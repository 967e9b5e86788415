// `hipaa-fhir-mcp cache purge`: removes every entry of the encrypted PHI cache in CACHE_DIR, e.g. when
// data must not linger or a key is retired. Stop the server first: a running one may write new entries.
import type { Writable } from 'node:stream';
import { resolve } from 'node:path';

const USAGE = 'usage: hipaa-fhir-mcp cache purge   (removes every entry in CACHE_DIR)\n';

export const runCacheCli = async (
  argv: readonly string[],
  io: { readonly stdout: Pick<Writable, 'write'>; readonly stderr: Pick<Writable, 'write'>; readonly env: NodeJS.ProcessEnv },
): Promise<number> => {
  if (argv.length !== 1 || argv[0] !== 'purge') {
    io.stderr.write(USAGE);
    return 2;
  }
  const dir = io.env.CACHE_DIR;
  if (dir === undefined || dir === '') {
    io.stderr.write('cache purge: CACHE_DIR is not set; it names the cache directory, as for the server.\n');
    return 2;
  }
  const { purgeCacheDirectory } = await import('@hipaa-fhir-mcp/phi-cache');
  try {
    const removed = await purgeCacheDirectory(resolve(dir));
    io.stdout.write(`Removed ${removed} cache ${removed === 1 ? 'entry' : 'entries'}.\n`);
    return 0;
  } catch (error) {
    io.stderr.write(`cache purge: ${error instanceof Error && /directory/.test(error.message) ? error.message : 'CACHE_DIR cannot be read.'}\n`);
    return 1;
  }
};
