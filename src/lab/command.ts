// Running a program and collecting what it printed: the lab drives Linux's `usbip` tool (and, on
// the exporter, usbip and sysfs through a command prefix such as ssh). Injectable, so tests can
// stand in for the tool without a kernel; no shell is involved (argv goes to execFile as is).
import { execFile } from 'node:child_process';

export interface CommandResult {
  /** Exit status; null when the program could not start or was killed. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export type CommandRunner = (argv: readonly string[], options?: { timeoutMs?: number }) => Promise<CommandResult>;

/** Runs argv[0] with the rest as arguments; never rejects (a failure to start is code null). */
export const runCommand: CommandRunner = (argv, options = {}) =>
  new Promise((resolve) => {
    if (argv.length === 0) {
      resolve({ code: null, stdout: '', stderr: 'empty command' });
      return;
    }
    execFile(argv[0]!, argv.slice(1), { timeout: options.timeoutMs ?? 30_000, maxBuffer: 8 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: number | string };
      const code = typeof e.code === 'number' ? e.code : null;
      resolve({ code, stdout: stdout ?? '', stderr: stderr || e.message });
    });
  });

/** The last line a failed program wrote, for an error message. */
export function lastLine(r: CommandResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.filter((l) => /error|fail|denied|not found|No such/i.test(l)).pop() ?? lines.pop() ?? 'no output';
}
