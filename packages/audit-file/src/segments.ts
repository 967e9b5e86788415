// A rotated audit stream: the active file `<name>` and its closed segments `<name>.<first seq>`
// (12 digits, zero-padded), in chain order. The chain (seq, prev_hash) runs across all of them; a
// segment's name is unique by construction, since seq only grows.
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const SEGMENT = /^\.(\d{12,})$/;

/** The segment name for a file whose first record has `firstSeq`: `<name>.000000000123`. */
export const segmentName = (path: string, firstSeq: number): string => `${path}.${String(firstSeq).padStart(12, '0')}`;

/** The stream's closed segments, in chain order (the active file not included). */
export const streamSegments = async (path: string): Promise<string[]> => {
  const base = basename(path);
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  return names
    .flatMap((name) => {
      const match = name.startsWith(`${base}.`) ? SEGMENT.exec(name.slice(base.length)) : null;
      return match === null ? [] : [{ name, firstSeq: Number(match[1]) }];
    })
    .sort((a, b) => a.firstSeq - b.firstSeq)
    .map(({ name }) => join(dirname(path), name));
};

/** Every file of the stream in chain order: its segments, then the active file. */
export const streamFiles = async (path: string): Promise<string[]> => [...(await streamSegments(path)), path];
