// tshark as the tests use it: read a capture, fail on any complaint, pull fields out.
import { spawnSync } from 'node:child_process';

export function tshark(file: string, ...args: string[]): string {
  const r = spawnSync('tshark', ['-r', file, ...args], { encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('tshark is not installed: run scripts/ensure-apt.sh (Debian package tshark)');
  }
  // tshark's only stderr line for a clean file run as root is its "Running as user root" note.
  const complaints = r.stderr
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('Running as user'))
    .join('\n');
  if (r.status !== 0 || complaints) throw new Error(`tshark -r ${file}: exit ${r.status}: ${complaints}`);
  return r.stdout;
}

/** Frames tshark flags as malformed or with an expert warning or error (severity >= PI_WARN). */
export function warnings(file: string): string {
  return tshark(file, '-Y', '_ws.malformed or _ws.expert.severity >= 6291456').trim();
}

/** The given fields of the frames matching `filter`, one array per frame. */
export const fields = (file: string, filter: string, ...names: string[]): string[][] =>
  tshark(file, '-Y', filter, '-T', 'fields', ...names.flatMap((n) => ['-e', n]))
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
