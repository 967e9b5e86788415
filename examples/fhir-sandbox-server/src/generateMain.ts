// `pnpm generate -- --seed N --heart-rates N --out DIR`: writes one generated patient bundle to DIR,
// e.g. for `FHIR_DATA_DIR` or `pnpm sandbox DIR`.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generatePatientBundle } from './generate.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : (args[i + 1] ?? fallback);
};
const seed = Number(option('--seed', '1'));
const heartRates = Number(option('--heart-rates', '20000'));
const out = option('--out', 'generated');
if (!Number.isInteger(seed) || !Number.isInteger(heartRates) || heartRates < 0) {
  process.stderr.write('usage: generateMain.js [--seed N] [--heart-rates N] [--out DIR]\n');
  process.exit(2);
}
await mkdir(out, { recursive: true });
const file = join(out, `generated-seed${seed}-hr${heartRates}.json`);
await writeFile(file, JSON.stringify(generatePatientBundle({ seed, heartRates })));
process.stderr.write(`wrote ${file}\n`);
