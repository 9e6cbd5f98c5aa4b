#!/usr/bin/env node
// The usb-harness command. An installed package runs its compiled JavaScript (dist/) with plain
// node. A checkout of the project (app/ present next to bin/) runs the TypeScript sources through
// tsx, so edits take effect without a build.
import { existsSync } from 'node:fs';

const sources = new URL('../app/main.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import('../dist/app/main.js');
}
