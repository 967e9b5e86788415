// @hipaa-fhir-mcp/fhir-http: FhirRepository over any FHIR R4 REST server, with checked answers,
// and its authorisation: none, a bearer token, SMART Backend Services, or a SMART user's login.
export { bearerAuth, type FhirAuth, noAuth } from './auth.js';
export { type HttpFhirRepositoryConfig, makeHttpFhirRepository } from './httpFhirRepository.js';
export { DEFAULT_SMART_SCOPES, type SmartBackendConfig, smartBackendAuth, SmartKeyError } from './smartBackendAuth.js';
export { type SmartConfiguration, discoverSmartConfiguration } from './smartTokens.js';
export { type Refreshed, type SmartUserConfig, smartUserAuth } from './smartUserAuth.js';
export { loginWithSmart, type SmartLoginConfig, type SmartLoginFailure, type SmartLoginResult } from './smartUserLogin.js';
