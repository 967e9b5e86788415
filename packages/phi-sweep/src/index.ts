// @hipaa-fhir-mcp/phi-sweep: find identifiers in files and text, by shape and by literal value.
export { type SweepReport, sweepPaths } from './cli.js';
export { encodedForms, type Finding, type FindingKind, findIdentifiers, findShapes, type Identifier, identifiersOfBundle } from './sweep.js';
