// `pnpm sandbox`: serves FHIR Bundles on loopback so the server can run against FHIR over HTTP
// offline. Usage: main.js [--port N] [DIR] — DIR defaults to the embedded synthetic data.
import { embeddedDataDir } from '@hipaa-fhir-mcp/fhir-files';
import { readBundleDir } from './readBundleDir.js';
import { startSandbox } from './sandboxServer.js';

const args = process.argv.slice(2);
const portIndex = args.indexOf('--port');
const port = portIndex === -1 ? 8080 : Number(args[portIndex + 1]);
const dir = args.filter((_, i) => i !== portIndex && i !== portIndex + 1)[0] ?? embeddedDataDir;
const sandbox = await startSandbox({ bundles: await readBundleDir(dir), port });
process.stderr.write(`FHIR sandbox at ${sandbox.baseUrl}\n  try: FHIR_BASE_URL=${sandbox.baseUrl} pnpm start\n`);
