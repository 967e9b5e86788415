// Builds the single-file production server: dist/hipaa-fhir-mcp.mjs, every dependency bundled, with
// the embedded synthetic data (dist/data) and the SPIFFE Workload API's proto (dist/proto) beside it.
// Modules the server imports dynamically (the FHIR HTTP adapter, the audit CLI) stay in the file but
// are not evaluated until first used.
import { cp, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const { version } = JSON.parse(await readFile(`${root}package.json`, 'utf8'));

await build({
  entryPoints: [`${root}src/bin.ts`],
  outfile: `${root}dist/hipaa-fhir-mcp.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['@hipaa-fhir-mcp/source'],
  // The AWS SDK is large and needed only with KEY_PROVIDER=kms: installed beside the server then (an
  // optional peer dependency), never read by a default start.
  external: ['@aws-sdk/*'],
  minify: true,
  keepNames: true, // stack frames in the operational log stay readable
  sourcemap: 'external', // written beside the bundle, loaded only with --enable-source-maps
  legalComments: 'linked',
  define: {
    __HFM_VERSION__: JSON.stringify(version),
    __HFM_EMBEDDED_DATA__: JSON.stringify('./data/synthea'),
    __HFM_WORKLOAD_PROTO__: JSON.stringify('./proto/workload.proto'),
  },
  // CommonJS dependencies (fp-ts, io-ts) call require() for Node built-ins.
  banner: { js: "import { createRequire as __hfmCreateRequire } from 'node:module'; const require = __hfmCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
await cp(fileURLToPath(new URL('../../fhir-files/data/synthea', import.meta.url)), `${root}dist/data/synthea`, { recursive: true });
await cp(fileURLToPath(new URL('../../fhir-files/data/LICENSE-Apache-2.0.txt', import.meta.url)), `${root}dist/data/LICENSE-Apache-2.0.txt`);
await cp(fileURLToPath(new URL('../../fhir-files/data/README.md', import.meta.url)), `${root}dist/data/README.md`);
// The SPIFFE Workload API's definitions, read only when SPIFFE_ENDPOINT_SOCKET selects it.
await cp(fileURLToPath(new URL('../../identity-spiffe/proto/workload.proto', import.meta.url)), `${root}dist/proto/workload.proto`);
