// Local AWS endpoints for tests: SigV4-verifying, answering as the AWS API reference documents.
export { type LocalCloudWatchLogs, type StoredEvent, startLocalCloudWatchLogs } from './cloudwatchLogs.js';
export { type HealthLakeProxy, startHealthLakeProxy } from './healthLakeProxy.js';
export { startLocalKms, TEST_KMS_KEY_ID } from './kms.js';
export { AwsError, type Handler, type RecordedCall, type SigV4Endpoint, startSigV4Endpoint, type TestCredentials } from './sigv4Endpoint.js';
