// Debian's Chromium for the browser tests: found on PATH, or installed from apt where this user
// can (root, as in CI). A machine where neither works fails the tests with the reason: the page
// is part of the product, so "no browser" is never a pass.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export async function ensureChromium(): Promise<string> {
  const found = CANDIDATES.find((p): p is string => !!p && existsSync(p));
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error('Chromium is not installed and this user cannot apt-get it: run `sudo apt-get install chromium` (or set CHROMIUM_PATH)');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env, maxBuffer: 64 << 20 });
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { env, maxBuffer: 64 << 20 });
  if (!existsSync('/usr/bin/chromium')) throw new Error('apt-get installed chromium but /usr/bin/chromium is missing');
  return '/usr/bin/chromium';
}
