// How loud the command line logs. Logs go to stderr (src/log.ts); by default only warnings and
// errors, so a command's stdout is its output alone. `-v` adds info, `-vv` debug, `-vvv` trace;
// LOG_LEVEL sets the level when no -v is given. Pure: it runs before any logger exists.

const LEVELS = ['warn', 'info', 'debug', 'trace'] as const;

/** -v, -vv, -vvv or --verbose. */
export function isVerboseFlag(arg: string): boolean {
  return arg === '--verbose' || /^-v+$/.test(arg);
}

/** The number of -v flags before a `--` (as -v -v, -vv, or --verbose). */
export function countVerbose(argv: readonly string[]): number {
  let n = 0;
  for (const a of argv) {
    if (a === '--') break;
    if (a === '--verbose') n++;
    else if (isVerboseFlag(a)) n += a.length - 1;
  }
  return n;
}

/** The log level for a command line: -v flags first, then LOG_LEVEL, then 'warn'. */
export function cliLogLevel(argv: readonly string[], envLevel: string | undefined): string {
  const v = countVerbose(argv);
  if (v > 0) return LEVELS[Math.min(v, LEVELS.length - 1)]!;
  return envLevel && envLevel.trim() !== '' ? envLevel : 'warn';
}
