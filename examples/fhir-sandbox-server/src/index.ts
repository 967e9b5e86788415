// The local FHIR sandbox: Medplum's FHIR engine on loopback, standing in for r4.smarthealthit.org.
export type { Fault, FaultKind } from './faults.js';
export { type RecordedRequest, type Sandbox, type SandboxOptions, type SmartClient, startSandbox } from './sandboxServer.js';
export { readBundleDir } from './readBundleDir.js';
