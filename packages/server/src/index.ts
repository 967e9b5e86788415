// @hipaa-fhir-mcp/server: the wiring of hipaa-fhir-mcp, and the `hipaa-fhir-mcp` bin (./bin.js).
export { type Config, type ConfigProblem, decodeConfig, ENV_VARS } from './config.js';
export { keyIdOf, loadHmacKey } from './keys.js';
export { type LogEvent, makeOperationalLog, type OperationalLog } from './operationalLog.js';
export { BIN_PATH, buildServer, UNBUNDLED_BIN_PATH, type RunningServer, SERVER_NAME, VERSION } from './wiring.js';
