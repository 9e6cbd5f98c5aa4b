// The Web Serial page in a real headless Chromium (Debian's chromium, driven by playwright-core),
// in its emulated-lab mode: the page runs our drivers over the mocks' WebUSB inside the browser.
// Everything is asserted on the DOM a person sees: the chooser, the status lines, the modem-line
// LEDs, the terminal, the loopback result, the event log.
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildPage, servePage } from '../../web/build.ts';
import { ensureChromium } from '../support/chromium.ts';

const REPORT_DIR = join(process.cwd(), 'reports/browser');

describe('web page in Chromium (emulated lab)', function () {
  this.timeout(240_000);
  let server: Server;
  let url: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async function () {
    const executablePath = await ensureChromium();
    await buildPage();
    ({ server, url } = await servePage(0));
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // The flags the workplace's Chromium needs: no sandbox as root, no GPU, and no background
      // traffic to Google's hosts (the network is closed).
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(msg.text()); });
    await page.goto(`${url}?mode=emulated`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  });

  after(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  afterEach(function () {
    expect(pageErrors, 'errors in the page').to.deep.equal([]);
  });

  async function choose(serial: string): Promise<void> {
    await page.click('[data-testid=request]');
    await page.waitForSelector('dialog[open] [data-testid=chooser-item]');
    await page.locator('[data-testid=chooser-item]', { hasText: serial }).locator('button').click();
    await page.waitForSelector('dialog:not([open])', { state: 'attached' });
    await page.locator('[data-testid=port].selected').waitFor();
  }

  async function openAt(baud: number): Promise<string> {
    await page.fill('[data-testid=baud]', String(baud));
    await page.click('[data-testid=open]');
    const status = page.locator('[data-testid=port-status]');
    await page.waitForFunction(() => !/Opening/.test(document.querySelector('[data-testid=port-status]')!.textContent ?? ''));
    return (await status.textContent()) ?? '';
  }

  it('starts in emulated mode with the lab listed and no port granted', async () => {
    expect(await page.textContent('[data-testid=mode]')).to.contain('Emulated lab');
    // The lab runs on the browser's own macrotasks (mocks/macrotask.ts): the page adds no Node
    // globals to the window.
    expect(await page.evaluate(() => typeof (globalThis as { setImmediate?: unknown }).setImmediate)).to.equal('undefined');
    expect(await page.locator('[data-testid=lab] li').count()).to.be.greaterThan(3);
    expect(await page.locator('[data-testid=port]').count()).to.equal(0);
  });

  it('the chooser lists only adapters our drivers bind; granting one lists it as a port', async () => {
    await page.click('[data-testid=request]');
    await page.waitForSelector('dialog[open] [data-testid=chooser-item]');
    const items = await page.locator('[data-testid=chooser-item]').allTextContents();
    expect(items.join('\n')).to.contain('LABFT232R').and.contain('0403:');
    expect(items.join('\n')).to.not.contain('1209:'); // custom-ID boards are not in the filters
    await page.locator('dialog[open] button[value=cancel]').click();
    await choose('LABFT232R');
    expect(await page.locator('[data-testid=port]').count()).to.equal(1);
    expect(await page.textContent('[data-testid=port].selected')).to.contain('0403:6001');
  });

  it('a rate the chip cannot do is refused in words, and the port stays closed', async () => {
    const status = await openAt(20_000_000);
    expect(status).to.match(/^Could not open: .*20000000|^Could not open: .*20,000,000/);
    expect(await page.getAttribute('[data-testid=port-status]', 'class')).to.contain('bad');
    expect(await page.isEnabled('[data-testid=open]')).to.equal(true);
  });

  it('opens, shows the modem lines the loopback plug feeds back, and follows DTR', async () => {
    const status = await openAt(921_600);
    expect(status).to.contain('Open at 921,600 baud 8N1');
    // The loopback plug wires RTS to CTS and DTR to DSR and DCD; open raises DTR and RTS.
    await page.waitForSelector('#led-cts.on');
    await page.waitForSelector('#led-dsr.on');
    await page.waitForSelector('#led-dcd.on');
    await page.click('[data-testid=dtr]');
    await page.waitForSelector('#led-dsr:not(.on)');
    await page.waitForSelector('#led-dcd:not(.on)');
    expect(await page.getAttribute('#led-cts', 'class')).to.contain('on');
    await page.click('[data-testid=dtr]');
    await page.waitForSelector('#led-dsr.on');
  });

  it('sends text and shows it come back in the terminal', async () => {
    await page.fill('[data-testid=text]', 'hello from chromium');
    await page.click('[data-testid=send]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=terminal]')!.textContent ?? '').split('hello from chromium').length >= 3);
  });

  it('loops back 64 KiB byte-exact with a progress bar and a throughput figure', async () => {
    await page.fill('[data-testid=lb-bytes]', '65536');
    await page.click('[data-testid=lb-run]');
    await page.waitForSelector('[data-testid=lb-result][data-outcome]', { timeout: 60_000 });
    const result = (await page.textContent('[data-testid=lb-result]')) ?? '';
    expect(await page.getAttribute('[data-testid=lb-result]', 'data-outcome'), result).to.equal('pass');
    expect(result).to.match(/65,536 bytes byte-exact in [\d.]+ s \([\d.]+ (KiB|MiB)\/s\)/);
    expect(await page.evaluate(() => (document.querySelector('[data-testid=lb-progress]') as HTMLProgressElement).value)).to.equal(1);
  });

  it('a break looped back shows as a typed BreakError, and reading goes on', async () => {
    await page.click('[data-testid=break]');
    await page.waitForSelector('[data-testid=line-error]:has-text("BreakError")');
    await page.fill('[data-testid=text]', 'after the break');
    await page.click('[data-testid=send]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=terminal]')!.textContent ?? '').split('after the break').length >= 3);
  });

  it('unplugging the dongle shows the disconnect and closes the port; a screenshot is saved', async () => {
    mkdirSync(REPORT_DIR, { recursive: true });
    await page.screenshot({ path: join(REPORT_DIR, 'page-open.png'), fullPage: true });
    await page.click('[data-testid=unplug-ft232r]');
    await page.waitForSelector('[data-testid=log] li.bad:has-text("disconnected")');
    await page.waitForFunction(() => /Port lost/.test(document.querySelector('[data-testid=port-status]')!.textContent ?? ''));
    expect(await page.isDisabled('[data-testid=close]')).to.equal(true);
    expect(await page.locator('[data-testid=port]').count()).to.equal(0);
    // Plugged back, the granted dongle (it has a serial number) is offered again without the chooser.
    await page.click('[data-testid=plug-ft232r]');
    await page.waitForSelector('[data-testid=log] li.ok:has-text("connected")');
    await page.locator('[data-testid=port]').first().waitFor();
    await page.screenshot({ path: join(REPORT_DIR, 'page-unplugged.png'), fullPage: true });
  });
});
