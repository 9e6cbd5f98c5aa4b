// Guest job: the Web Serial page (web/, built on the host into web/dist) in the guest's Chromium on
// QEMU's emulated FTDI through the real kernel. One Chromium per guest (VM_FREE picks how the
// interface is freed); the same loopback in Node runs in a guest of its own (browser-node.ts).
//
// Chromium sees the device without a chooser through the managed policy WebUsbAllowDevicesForUrls
// (written to /etc/chromium/policies/managed/, which the guest's tmpfs overlay makes writable).
// The kernel's ftdi_sio holds the interface at boot; Chromium's claim then fails with EBUSY
// (services/device/usb/usb_device_handle_usbfs.cc) unless one of two things frees it:
//   VM_FREE=auto-detach (--enable-features=AutomaticUsbDetach, ftdi_sio bound as at boot):
//     Chromium issues USBDEVFS_DISCONNECT itself at claim (and USBDEVFS_CONNECT when it releases
//     the interface; our driver holds the interface while bound, as Linux's usb-serial does, so
//     the page releases it only at unbind);
//   VM_FREE=unbind (no feature): the page first loads with ftdi_sio bound (the control: the claim
//     is refused, no port offered), then ftdi_sio is unbound through sysfs and the page reloaded.
// After the port is closed the tab is closed, then the browser; where ftdi_sio did not come back
// by then, it is bound again by hand (the interface must be free for it).
// Page load → port listed → open → one line echoed (page-load-to-first-echo) → VM_BYTES looped
// back byte-exact through the host's echo peer, read off the page's DOM → close.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { extname, join } from 'node:path';
import { hostLink, writeResult } from '../guest/link.ts';

const SYS_FTDI = '/sys/bus/usb/drivers/ftdi_sio';
const PORT = 8080;
const ORIGIN = `http://localhost:${PORT}`;
const BYTES = Number(process.env.VM_BYTES ?? 64 * 1024);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FREE = process.env.VM_FREE;
if (FREE !== 'auto-detach' && FREE !== 'unbind') throw new Error(`VM_FREE must be 'auto-detach' or 'unbind', not ${JSON.stringify(FREE)}`);
/** QEMU's usb-serial: 0403:6001, as the policy's decimal unsigned shorts. */
const FTDI = { vendor_id: 0x0403, product_id: 0x6001 };

const kernelBound = () => (existsSync(SYS_FTDI) ? readdirSync(SYS_FTDI).filter((n) => /^\d+-[\d.]+:\d+\.\d+$/.test(n)).sort() : []);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** ftdi_sio's interfaces once it holds one, or after `limitMs` (then none). */
async function boundWithin(limitMs: number): Promise<string[]> {
  const end = performance.now() + limitMs;
  while (kernelBound().length === 0 && performance.now() < end) await sleep(100);
  return kernelBound();
}
const ms = (t0: number) => Math.round(performance.now() - t0);
const t00 = performance.now();
const log = (s: string) => console.log(`[${(ms(t00) / 1000).toFixed(1)} s] ${s}`);

const link = hostLink();
const result: Record<string, unknown> = { bytes: BYTES, before: { kernelBound: kernelBound() } };

// The guest boots with its loopback interface down: Chromium's connect to localhost would fail
// (it reports ERR_INTERNET_DISCONNECTED, having no interface up).
execFileSync('ip', ['link', 'set', 'lo', 'up']);

// ---- the policy and the page's server ----------------------------------------------------------

mkdirSync('/etc/chromium/policies/managed', { recursive: true });
writeFileSync(
  '/etc/chromium/policies/managed/usb-serial-harness.json',
  JSON.stringify({ WebUsbAllowDevicesForUrls: [{ devices: [FTDI], urls: [ORIGIN] }] }),
);
// web/dist as `npm run web` serves it (web/build.ts; the host built it before the boot). Served
// here rather than through web/build.ts, whose import would bundle esbuild's build into the job.
const DIST = join(process.env.VM_REPO ?? process.cwd(), 'web/dist');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript', '.map': 'application/json' };
const server = createServer((rq, rs) => {
  const name = new URL(rq.url ?? '/', ORIGIN).pathname.replace(/^\/+/, '') || 'index.html';
  const file = join(DIST, name);
  if (name.includes('..') || !existsSync(file)) {
    rs.writeHead(404).end();
    return;
  }
  rs.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
});
await new Promise<void>((r) => server.listen(PORT, '127.0.0.1', r));
log('policy written, page served');

// playwright-core from node_modules at run time (not bundled: it loads its own parts lazily).
const req = createRequire(import.meta.url);
const { chromium } = req('playwright-core') as typeof import('playwright-core');
log('playwright-core loaded');

type Page = import('playwright-core').Page;

async function portStatus(page: Page): Promise<string> {
  return (await page.textContent('[data-testid=port-status]')) ?? '';
}

/** Opens the listed port at 115200 8N1; the status line the page shows. */
async function openPort(page: Page): Promise<string> {
  await page.locator('[data-testid=port]').first().waitFor({ timeout: 60_000 });
  await page.fill('[data-testid=baud]', '115200');
  await page.click('[data-testid=open]');
  await page.waitForFunction(() => !/Opening/.test(document.querySelector('[data-testid=port-status]')!.textContent ?? ''), undefined, { timeout: 60_000 });
  return portStatus(page);
}

/** One browser: launch, load, open, echo one line, loop VM_BYTES back, close. */
async function browserRun(label: string, features: string[], beforeOpen?: (page: Page) => Promise<{ reloadMs?: number }>): Promise<Record<string, unknown>> {
  const r: Record<string, unknown> = { label, features };
  const errors: string[] = [];
  let t = performance.now();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 120_000,
    // --no-sandbox: the job runs as root, and Chromium refuses to start its sandbox as root.
    // No GPU, no traffic to Google's hosts (the guest has no network).
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...features.map((f) => `--enable-features=${f}`)],
  });
  r.launchMs = ms(t);
  log(`${label}: chromium up in ${r.launchMs} ms`);
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(300_000);
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    t = performance.now();
    // Under TCG a renderer takes minutes to start and compile the page: wait for the page's own
    // readiness mark rather than the load event.
    await page.goto(ORIGIN + '/', { timeout: 300_000, waitUntil: 'commit' });
    log(`${label}: page committed after ${ms(t)} ms`);
    await page.waitForSelector('body[data-ready]', { timeout: 400_000 });
    r.loadMs = ms(t);
    log(`${label}: page ready after ${r.loadMs} ms`);
    r.ready = await page.getAttribute('body', 'data-ready');
    r.mode = await page.textContent('[data-testid=mode]');
    r.getDevices = await page.evaluate(async () => (await navigator.usb.getDevices()).map((d) => `${d.vendorId.toString(16).padStart(4, '0')}:${d.productId.toString(16).padStart(4, '0')} ${d.productName ?? ''}`));
    log(`${label}: getDevices ${JSON.stringify(r.getDevices)}`);
    if (beforeOpen) {
      const b = (await beforeOpen(page)) as { reloadMs?: number };
      r.beforeOpen = b;
      // The page that opens the port is the reloaded one: its load is the reload.
      if (b.reloadMs !== undefined) r.loadMs = b.reloadMs;
    }
    const tReady = performance.now();
    const tOpen = performance.now();
    r.status = await openPort(page);
    r.openMs = ms(tOpen);
    r.kernelBoundWhileOpen = kernelBound();
    log(`${label}: ${String(r.status)}`);
    if (!/^Open at/.test(String(r.status))) return r;
    await page.fill('[data-testid=text]', 'ping from chromium');
    await page.click('[data-testid=send]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=terminal]')!.textContent ?? '').split('ping from chromium').length >= 3, undefined, { timeout: 60_000 });
    r.loadToFirstEchoMs = (r.loadMs as number) + ms(tReady);
    log(`${label}: first echo ${r.loadToFirstEchoMs} ms after page load`);
    await page.fill('[data-testid=lb-bytes]', String(BYTES));
    t = performance.now();
    await page.click('[data-testid=lb-run]');
    await page.waitForSelector('[data-testid=lb-result][data-outcome]', { timeout: 900_000 });
    const seconds = (performance.now() - t) / 1000;
    const text = (await page.textContent('[data-testid=lb-result]')) ?? '';
    // The page's own figure runs from its first write to the last byte checked; the job's adds
    // the click and the DOM polling through the DevTools protocol.
    const pageSeconds = Number(/ in ([\d.]+) s/.exec(text)?.[1] ?? NaN);
    r.loopback = {
      outcome: await page.getAttribute('[data-testid=lb-result]', 'data-outcome'),
      text,
      progress: await page.evaluate(() => (document.querySelector('[data-testid=lb-progress]') as HTMLProgressElement).value),
      seconds: Number(seconds.toFixed(2)),
      pageSeconds,
      kiBps: Number((BYTES / 1024 / pageSeconds).toFixed(2)),
    };
    log(`${label}: loopback ${JSON.stringify(r.loopback)}`);
    await page.click('[data-testid=close]');
    await page.waitForFunction(() => /No port open/.test(document.querySelector('[data-testid=port-status]')!.textContent ?? ''), undefined, { timeout: 30_000 });
    r.closed = await portStatus(page);
    r.log = await page.locator('[data-testid=log] li').allTextContents();
    // Closing the tab ends the page's WebUSB connection, so Chromium closes its usbfs handle.
    await page.close();
    r.kernelBoundAfterTabClose = await boundWithin(10_000);
  } catch (err) {
    // Recorded, not thrown: the spec reports how far the phase got, and the browser still closes.
    r.error = `${(err as Error).name}: ${(err as Error).message.split('\n')[0]}`;
    log(`${label}: ${String(r.error)}`);
  } finally {
    r.pageErrors = errors;
    await browser.close();
  }
  r.kernelBoundAfter = await boundWithin(5_000);
  return r;
}

const boot = (result.before as { kernelBound: string[] }).kernelBound;
if (boot.length !== 1) throw new Error(`expected ftdi_sio bound to one interface at boot, got ${JSON.stringify(boot)}`);
const intf = boot[0]!;

if (FREE === 'auto-detach') {
  result.browser = await browserRun('AutomaticUsbDetach', ['AutomaticUsbDetach']);
} else {
  result.browser = await browserRun('sysfs unbind', [], async (page) => {
    // The control: ftdi_sio holds the interface, so the page's driver cannot claim it and offers
    // no port, though the policy lists the device.
    const ports = await page.locator('[data-testid=port]').count();
    const pageLog = await page.locator('[data-testid=log] li').allTextContents();
    writeFileSync(`${SYS_FTDI}/unbind`, intf);
    const afterUnbind = kernelBound();
    const t = performance.now();
    await page.reload({ waitUntil: 'commit' });
    await page.waitForSelector('body[data-ready]');
    log(`sysfs unbind: ${ports} port(s) listed while ftdi_sio held the interface; page reloaded in ${ms(t)} ms`);
    return { ports, pageLog, afterUnbind, reloadMs: ms(t) };
  });
}
// Whatever Chromium did at close, the interface must be free for the kernel: bound by hand where
// nothing gave it back, it is ftdi_sio's again.
if (kernelBound().length === 0) {
  writeFileSync(`${SYS_FTDI}/bind`, intf);
  result.rebound = await boundWithin(5_000);
} else {
  result.rebound = kernelBound();
}

await new Promise<void>((r) => server.close(() => r()));
writeResult(result);
console.log(JSON.stringify(result, null, 1));
link.close();
