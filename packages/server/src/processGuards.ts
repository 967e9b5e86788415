// Imported first by the bin, before any other module loads: Node's own warning printer and the
// default crash handlers write messages (which may quote input) to stderr. Ours log classes only.
import { errorClassOf, makeOperationalLog, stackFramesOf } from './operationalLog.js';

const log = makeOperationalLog();

process.removeAllListeners('warning');
process.on('warning', (warning) => log({ event: 'process_warning', warning_class: warning.name }));

for (const kind of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(kind, (thrown: unknown) => {
    log({ event: 'process_error', kind, error_class: errorClassOf(thrown), stack_frames: stackFramesOf(thrown) });
    process.exit(70);
  });
}

export { log as processLog };
