// The usb-harness entry point (bin/usb-harness.js runs it; `npm start` runs its demo). The log
// level is decided here, before any other module is loaded, because every module builds its
// logger when it loads (src/log.ts reads LOG_LEVEL then).
import { cliLogLevel } from '../src/cli/verbosity.ts';

process.env.LOG_LEVEL = cliLogLevel(process.argv.slice(2), process.env.LOG_LEVEL);
await import('./usb-harness.ts');
