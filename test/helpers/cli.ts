// Running the usb-harness command (app/main.ts under tsx) as a child process, as a user would.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const cliEntry = fileURLToPath(new URL('../../app/main.ts', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the command with `args`; `stdin` is piped in (default none); `logLevel` sets LOG_LEVEL (default 'silent'; null: unset, the command's own default). */
export function runCliProcess(args: string[], stdin?: string, logLevel: string | null = 'silent'): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LOG_LEVEL;
  if (logLevel !== null) env.LOG_LEVEL = logLevel;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
