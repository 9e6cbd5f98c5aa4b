#!/usr/bin/env node
// The browser check: bundles the package's browser entries with esbuild for platform=browser
// and fails on anything in the graph a browser cannot load: a Node built-in, pino's worker
// transport, or a native USB/serial module (those are loaded only by the Node backends, through
// a dynamic import the bundler does not follow).
//
//   npx tsx scripts/browser-bundle.ts [dir]   bundle from dir's node_modules (default: this checkout,
//                                          which resolves its own name to dist/: build first)
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** The entries a web page imports: the Web Serial API, and the mock lab for an emulated device. */
export const BROWSER_ENTRIES = ['usb-serial-harness/web-serial', 'usb-serial-harness/mocks'];

/** Packages that must never reach a browser graph (matched against import paths and inputs). */
const FORBIDDEN_PACKAGES = [
  'usb', 'usb3', '@serialport/bindings-cpp', '@serialport/stream', 'node-gyp-build',
  'pino/lib/transport', 'thread-stream', 'pino-pretty', 'sonic-boom',
];

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function forbiddenPackage(path: string): string | undefined {
  return FORBIDDEN_PACKAGES.find((p) => path === p || path.startsWith(`${p}/`) || path.includes(`node_modules/${p}/`));
}

/**
 * Bundles `specifier` for the browser, resolving packages from `dir`. Returns the bundle's size
 * and its input files; throws an Error listing every offending import (with its importer).
 */
export interface BrowserBundle {
  specifier: string;
  /** Size of the bundle (not minified). */
  bytes: number;
  /** Every file in the graph. */
  inputs: string[];
}

export async function bundleForBrowser(specifier: string, dir: string): Promise<BrowserBundle> {
  const offences: string[] = [];
  const guard: Plugin = {
    name: 'browser-guard',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (builtins.has(args.path)) offences.push(`Node built-in '${args.path}' imported by ${args.importer}`);
        else {
          const pkg = forbiddenPackage(args.path);
          if (pkg) offences.push(`'${args.path}' (${pkg}) imported by ${args.importer}`);
          else return undefined;
        }
        return { path: args.path, external: true };
      });
    },
  };
  const result = await build({
    stdin: { contents: `export * from ${JSON.stringify(specifier)};`, resolveDir: dir, sourcefile: 'page.js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [guard],
  });
  const inputs = Object.keys(result.metafile.inputs);
  for (const input of inputs) {
    const pkg = forbiddenPackage(input);
    if (pkg) offences.push(`${input} (${pkg}) is in the graph`);
  }
  if (offences.length) throw new Error(`${specifier} does not bundle for the browser:\n  ${offences.join('\n  ')}`);
  return { specifier, bytes: result.outputFiles[0]!.contents.byteLength, inputs };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)));
  for (const entry of BROWSER_ENTRIES) {
    try {
      const { bytes, inputs } = await bundleForBrowser(entry, dir);
      console.log(`${entry}: ${bytes} bytes, ${inputs.length} modules, browser-safe`);
    } catch (err) {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    }
  }
}
