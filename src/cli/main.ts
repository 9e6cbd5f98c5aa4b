// The usb-harness entry point. The log level is decided here, before any module is loaded,
// because every module builds its logger when it loads (src/log.ts reads LOG_LEVEL then).
import { cliLogLevel } from './verbosity.ts';

process.env.LOG_LEVEL = cliLogLevel(process.argv.slice(2), process.env.LOG_LEVEL);
await import('./program.ts');
