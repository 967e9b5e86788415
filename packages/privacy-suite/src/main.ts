// `pnpm privacy`: runs the adversarial privacy suite and prints its figures; exits 1 on any hit.
import { formatReport, runPrivacySuite } from './privacySuite.js';

const report = await runPrivacySuite({ generatedCalls: Number(process.env.PRIVACY_GENERATED_CALLS ?? 200) });
process.stdout.write(`${formatReport(report)}\n`);
process.exitCode = report.hits === 0 && report.nonProtocolStdout === 0 ? 0 : 1;
