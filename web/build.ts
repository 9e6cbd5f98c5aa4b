// Builds the page into web/dist (index.html, style.css, app.js with its source map) and, with
// `serve`, serves it on localhost (`npm run web`; PORT picks the port, default 8080). WebUSB
// needs a secure context: localhost counts as one, so no certificate is needed here.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = dirname(fileURLToPath(import.meta.url));
export const DIST_DIR = join(WEB_DIR, 'dist');

/** Node built-ins must not reach the page: the bundle fails if one is imported. */
const NODE_BUILTINS = /^(node:|fs$|path$|os$|child_process$|net$|tls$|http$|https$|worker_threads$|stream$|crypto$|util$|events$|module$)/;

export async function buildPage(): Promise<{ bytes: number; ms: number }> {
  const t0 = Date.now();
  mkdirSync(DIST_DIR, { recursive: true });
  const result = await build({
    entryPoints: [join(WEB_DIR, 'app/main.ts')],
    outfile: join(DIST_DIR, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110'],
    sourcemap: true,
    minify: true,
    metafile: true,
    logLevel: 'silent',
    plugins: [{
      name: 'no-node-builtins',
      setup(b) {
        b.onResolve({ filter: NODE_BUILTINS }, (args) => ({ errors: [{ text: `the page imports the Node built-in '${args.path}' (from ${args.importer})` }] }));
      },
    }],
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(WEB_DIR, f), join(DIST_DIR, f));
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { bytes, ms: Date.now() - t0 };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
};

/** Serves web/dist on 127.0.0.1 (only: nothing here is meant for the network). */
export function servePage(port = 8080): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^([/\\])+/, '');
    const file = resolve(DIST_DIR, path === '' ? 'index.html' : path);
    if (!file.startsWith(DIST_DIR) || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      const actual = typeof addr === 'object' && addr ? addr.port : port;
      ok({ server, url: `http://localhost:${actual}/` });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { bytes, ms } = await buildPage();
  process.stderr.write(`built web/dist/app.js (${(bytes / 1024).toFixed(0)} KiB with its map) in ${ms} ms\n`);
  if (process.argv.includes('serve')) {
    const { url } = await servePage(Number(process.env.PORT ?? 8080));
    process.stdout.write(`serving ${url}  (emulated lab: ${url}?mode=emulated)\n`);
  }
}
