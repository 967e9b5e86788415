// Runs the example service: PORT (default 8080), AUDIT_LOG_FILE and AUDIT_HMAC_KEY (hex) from the environment.
import { startService } from './service.js';

const key = process.env.AUDIT_HMAC_KEY ?? '';
const auditLogFile = process.env.AUDIT_LOG_FILE;
if (!/^(?:[0-9a-f]{2}){32,}$/i.test(key) || auditLogFile === undefined) {
  process.stderr.write('Set AUDIT_LOG_FILE and AUDIT_HMAC_KEY (openssl rand -hex 32).\n');
  process.exit(2);
}
const service = await startService({ auditLogFile, hmacKey: Buffer.from(key, 'hex'), port: Number(process.env.PORT ?? 8080) });
process.stderr.write(`listening on ${service.url}; try: curl -s -X POST -H 'x-caller-identity: dr.example' -d '{"patient_id":"d66b5418-06cb-fc8a-8c13-85685b6ac939"}' ${service.url}/tools/get_medication_list\n`);
