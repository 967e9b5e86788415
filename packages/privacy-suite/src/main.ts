// `pnpm privacy`: runs the adversarial privacy suite and prints its figures (on stderr); exits 1 on any hit.
import { formatReport, runPrivacySuite } from './privacySuite.js';

const report = await runPrivacySuite({ generatedCalls: Number(process.env.PRIVACY_GENERATED_CALLS ?? 200) });
process.stderr.write(`${formatReport(report)}\n`);
process.exitCode = report.hits === 0 && report.nonProtocolStdout === 0 ? 0 : 1;
