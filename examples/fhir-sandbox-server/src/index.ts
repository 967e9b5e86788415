// The local FHIR sandbox: Medplum's FHIR engine on loopback, standing in for r4.smarthealthit.org.
export type { Fault, FaultKind } from './faults.js';
export { type RecordedRequest, type Sandbox, type SandboxOptions, type SmartClient, startSandbox } from './sandboxServer.js';
export { type FixturePatient, readFixtureBundles, readFixtureManifest, REPOSITORY_ROOT } from './fixtures.js';
export { generatedPatientId, generatePatientBundle, type GeneratedPatientOptions } from './generate.js';
export { readBundleDir } from './readBundleDir.js';
