#!/usr/bin/env node
// The published build (npm run build; npm pack runs it as prepack): dist/ is emptied first, so
// files that moved or were deleted in the sources never ship, then tsc compiles src/, drivers/,
// mocks/ and app/ with tsconfig.build.json (ESM, .d.ts, source maps).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (run.error) throw run.error;
process.exitCode = run.status ?? 1;
