// FhirRepository over a directory of FHIR Bundle files (*.json), loaded on first use so that start-up
// stays fast. File names are never reported: Synthea names its files after the patient.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import { type FhirError, type FhirRepository, fhirError } from '@hipaa-fhir-mcp/core';
import { type BundleIndex, indexBundles, repositoryOverIndex } from './bundleIndex.js';

// The single-file server build defines this to where it copies the data beside itself.
declare const __HFM_EMBEDDED_DATA__: string | undefined;

/** The synthetic Synthea bundles shipped with this package (see data/README.md). */
export const embeddedDataDir: string = fileURLToPath(
  new URL(typeof __HFM_EMBEDDED_DATA__ === 'string' ? __HFM_EMBEDDED_DATA__ : '../data/synthea', import.meta.url),
);

export interface FilesFhirRepositoryConfig {
  /** A directory whose `*.json` files are each one FHIR Bundle (transaction, collection or searchset). */
  readonly dir: string;
}

const isBundle = (u: unknown): u is fhir4.Bundle =>
  typeof u === 'object' && u !== null && (u as { resourceType?: unknown }).resourceType === 'Bundle';

const loadIndex = async (dir: string): Promise<E.Either<FhirError, BundleIndex>> => {
  try {
    const names = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
    const bundles: fhir4.Bundle[] = [];
    for (const name of names) {
      const parsed: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'));
      if (!isBundle(parsed)) return E.left(fhirError('InvalidResponse'));
      bundles.push(parsed);
    }
    return E.right(indexBundles(bundles));
  } catch {
    // A missing directory, an unreadable file or malformed JSON: the error text would name the file.
    return E.left(fhirError('Unavailable'));
  }
};

/** Reads every Bundle in `dir` on the first query; a failed load is retried on the next one. */
export const makeFilesFhirRepository = (config: FilesFhirRepositoryConfig): FhirRepository => {
  let loading: Promise<E.Either<FhirError, BundleIndex>> | undefined;
  return repositoryOverIndex(() => {
    loading ??= loadIndex(config.dir).then((loaded) => {
      if (E.isLeft(loaded)) loading = undefined;
      return loaded;
    });
    return loading;
  });
};
