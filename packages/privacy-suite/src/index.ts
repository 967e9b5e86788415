// @hipaa-fhir-mcp/privacy-suite: the adversarial privacy suite, as a library (tests, `pnpm privacy`).
export { formatReport, runPrivacySuite, type SinkReport, type SuiteOptions, type SuiteReport } from './privacySuite.js';
