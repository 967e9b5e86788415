// Each tool call gets a fresh random request id from the core itself, so that no caller can place
// an identifier (a patient id is often a UUID too) into the request_id field of the audit log.
import type { RequestId } from './AuditRecord.js';
import type { CallContext } from './ports.js';

/** A new call with a random (v4) request id, from the platform's Web Crypto. */
export const newCallContext = (): CallContext => ({ requestId: globalThis.crypto.randomUUID() as RequestId });
