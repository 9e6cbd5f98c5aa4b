// The project's one logger: structured (pino), quiet unless asked.
// LOG_LEVEL picks the level; tests default to silent (test/setup.ts), the CLI to 'info'.
import { pino, type Logger } from 'pino';

// globalThis.process: the same module runs in browsers, where there is no process.
const env: Record<string, string | undefined> = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
const level = env.LOG_LEVEL ?? 'info';

export const log: Logger = pino({
  name: 'usb-serial-harness',
  level,
  base: undefined,
});

/** A child logger for one component, e.g. `childLog('core.bus', { bus: 'usb' })`. */
export function childLog(component: string, bindings: Record<string, unknown> = {}): Logger {
  return log.child({ component, ...bindings });
}

/** Debug mode records call sites (pins, registrations): costly, so only when asked. */
export function debugEnabled(): boolean {
  return log.isLevelEnabled('debug') || env.USB_HARNESS_DEBUG === '1';
}

export type { Logger };
