// Reads every FHIR Bundle (*.json) in a directory, in name order.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const readBundleDir = async (dir: string): Promise<fhir4.Bundle[]> => {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(join(dir, name), 'utf8')) as fhir4.Bundle));
};
