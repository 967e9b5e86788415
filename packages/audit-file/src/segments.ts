// A rotated audit stream: the active file `<name>` and its closed segments `<name>.<UTC timestamp>`,
// oldest first. The chain (seq, prev_hash) runs across all of them.
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const SEGMENT = /^\.(\d{8}T\d{9}Z)(?:-(\d+))?$/;

/** The segment name for a rotation at `when`: `<name>.20261204T215707123Z`. */
export const segmentName = (path: string, when: Date): string =>
  `${path}.${when.toISOString().replace(/[-:.]/g, '')}`;

/** The stream's closed segments, oldest first (the active file not included). */
export const streamSegments = async (path: string): Promise<string[]> => {
  const base = basename(path);
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  return names
    .filter((name) => name.startsWith(`${base}.`) && SEGMENT.test(name.slice(base.length)))
    .sort()
    .map((name) => join(dirname(path), name));
};

/** Every file of the stream in chain order: its segments, then the active file. */
export const streamFiles = async (path: string): Promise<string[]> => [...(await streamSegments(path)), path];
