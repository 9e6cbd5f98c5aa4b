// `npm run bench [name ...]`: runs the benchmarks (all, or those named), JSON lines on stdout.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// stdout carries only the figures: the project's logs stay quiet unless LOG_LEVEL asks.
process.env.LOG_LEVEL ??= 'silent';

const here = dirname(fileURLToPath(import.meta.url));
// Arguments starting with -- are options for the benchmarks themselves (e.g. scaling's --full).
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
for (const f of files) {
  const mod = (await import(join(here, f))) as { run: () => Promise<void> };
  await mod.run();
}
