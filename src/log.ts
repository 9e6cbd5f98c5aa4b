// The project's one logger: structured (pino), on stderr, quiet unless asked.
// LOG_LEVEL picks the level (default 'info'; tests set 'silent' in test/setup.ts, the command
// line sets 'warn' unless -v, -vv or LOG_LEVEL ask for more: see src/cli/verbosity.ts).
// Log lines go to stderr so that stdout carries only a program's own output (`... --json | jq`).
import { pino, type Logger } from 'pino';

// globalThis.process: the same module runs in browsers, where there is no process (pino's
// browser build logs to the console there and has no destination()).
const env: Record<string, string | undefined> = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
const level = env.LOG_LEVEL ?? 'info';
const inNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
// Synchronous writes: a line logged just before process.exit() is not lost.
const destination = inNode && typeof pino.destination === 'function' ? pino.destination({ fd: 2, sync: true }) : undefined;

export const log: Logger = pino(
  {
    name: 'usb-serial-harness',
    level,
    base: undefined,
  },
  destination,
);

/** A child logger for one component, e.g. `childLog('core.bus', { bus: 'usb' })`. */
export function childLog(component: string, bindings: Record<string, unknown> = {}): Logger {
  return log.child({ component, ...bindings });
}

/** Debug mode records call sites (pins, registrations): costly, so only when asked. */
export function debugEnabled(): boolean {
  return log.isLevelEnabled('debug') || env.USB_HARNESS_DEBUG === '1';
}

export type { Logger };
