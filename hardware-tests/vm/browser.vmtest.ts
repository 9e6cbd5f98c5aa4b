// Opt-in (USB_HARNESS_VM_BROWSER=1, see run-tier.ts): the Web Serial page (web/) in the guest's
// Chromium on QEMU's emulated FTDI through the real kernel, granted by the managed policy
// WebUsbAllowDevicesForUrls, with the kernel's ftdi_sio let go of the interface in both ways
// Chromium allows (the AutomaticUsbDetach feature; sysfs unbind, after the control with ftdi_sio
// bound). A byte-exact Web Serial loopback through the host's echo peer, read off the page's DOM,
// next to the same loopback in Node (the page's stack on libusb). One Chromium per guest, one guest
// per phase: each phase starts from the state the kernel boots in. Chromium under TCG takes
// minutes, hence opt-in.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { withGuest, type GuestRun } from './runner.ts';
import { echoPeer, type PeerStats } from './peers.ts';
import { jobFailed, logTimings, skipWithoutVm } from './tier.ts';
import { buildPage } from '../../web/build.ts';
import { patternByte } from '../../web/app/loopback.ts';

const BYTES = 64 * 1024;
/** The first line each side sends: the page's with its default line end (LF). */
const PING_PAGE = 'ping from chromium\n';
const PING_NODE = 'ping from node\r\n';
/** One guest: boot plus one Chromium under TCG (7-12 min measured at load 12-17; room for more). */
const GUEST_TIMEOUT_MS = 1_800_000;

interface BrowserRun {
  label: string;
  launchMs: number;
  ready: string;
  mode: string;
  getDevices: string[];
  beforeOpen?: { ports: number; pageLog: string[]; afterUnbind: string[]; reloadMs: number };
  loadMs: number;
  status: string;
  openMs: number;
  kernelBoundWhileOpen: string[];
  loadToFirstEchoMs: number;
  /** seconds: click to result, as the job saw it; pageSeconds: the page's own figure; kiBps from it. */
  loopback: { outcome: string; text: string; progress: number; seconds: number; pageSeconds: number; kiBps: number };
  closed: string;
  pageErrors: string[];
  /** ftdi_sio's interfaces 10 s after the tab closed, and 5 s after the browser exited. */
  kernelBoundAfterTabClose: string[];
  kernelBoundAfter: string[];
  /** How far the phase got, when it failed. */
  error?: string;
}

interface BrowserResult {
  bytes: number;
  before: { kernelBound: string[] };
  browser: BrowserRun;
  /** ftdi_sio's interfaces at the end (bound by hand where nothing gave the interface back). */
  rebound: string[];
}

interface NodeResult {
  bytes: number;
  port: string;
  /** From creating the backend; and from the process's start (node and the bundle loading). */
  startToFirstEchoMs: number;
  processToFirstEchoMs: number;
  received: number;
  identical: boolean;
  seconds: number;
  kiBps: number;
}

/** What the host's echo peer must have seen: the ping, then the page's loopback pattern. */
function expectedDigest(ping: string): string {
  const data = Uint8Array.from({ length: BYTES }, (_, i) => patternByte(i));
  return createHash('sha256').update(ping).update(data).digest('hex');
}

const s = (msec: number) => `${(msec / 1000).toFixed(1)} s`;

function bootGuest<R>(job: string, env: Record<string, string>): Promise<GuestRun<PeerStats> & { result: R }> {
  return withGuest(
    { devices: [{ id: 'ftdi' }], job, env: { VM_BYTES: String(BYTES), ...env }, memoryMb: 2048, timeoutMs: GUEST_TIMEOUT_MS },
    async (guest) => echoPeer(await guest.serial('ftdi')),
  ) as Promise<GuestRun<PeerStats> & { result: R }>;
}

/** Boots a guest for one browser phase; checks what every phase must show on the page. */
async function browserPhase(free: 'auto-detach' | 'unbind'): Promise<{ run: GuestRun<PeerStats>; r: BrowserResult }> {
  const run = await bootGuest<BrowserResult>('hardware-tests/vm/jobs/browser-webserial.ts', { VM_FREE: free });
  logTimings(`browser ${free}`, run);
  if (run.status !== 0) throw jobFailed(`browser job (${free})`, run);
  const r = run.result;
  const b = r.browser;
  expect(b.error, `${b.label}: the phase failed`).to.equal(undefined);
  console.log(`      [vm] ${b.label}: Chromium up in ${s(b.launchMs)}, page load ${s(b.loadMs)}, open ${s(b.openMs)}, page load to first echo ${s(b.loadToFirstEchoMs)}, ${BYTES / 1024} KiB looped back in ${b.loopback.pageSeconds} s by the page's clock (${b.loopback.kiBps} KiB/s; ${b.loopback.seconds} s from the click)`);
  expect(r.before.kernelBound, 'ftdi_sio bound at boot').to.have.length(1);
  expect(b.ready, `${b.label}: page start`).to.equal('true');
  expect(b.mode).to.contain('Real USB');
  // The policy grants QEMU's FTDI to the page's origin: listed with no chooser and no gesture.
  expect(b.getDevices).to.have.length(1);
  expect(b.getDevices[0]).to.match(/^0403:6001 /);
  expect(b.status, `${b.label}: open`).to.match(/^Open at 115,200 baud 8N1/);
  expect(b.kernelBoundWhileOpen, `${b.label}: ftdi_sio let go while the page has the port`).to.deep.equal([]);
  expect(b.loopback.outcome, b.loopback.text).to.equal('pass');
  expect(b.loopback.text).to.match(/^65,536 bytes byte-exact in [\d.]+ s /);
  expect(b.loopback.pageSeconds).to.be.greaterThan(0);
  expect(b.loopback.progress).to.equal(1);
  expect(b.closed).to.contain('No port open');
  expect(b.pageErrors, `${b.label}: errors in the page`).to.deep.equal([]);
  // The host's side of the UART saw exactly the ping and the loopback, in order.
  expect(run.value.bytes).to.equal(PING_PAGE.length + BYTES);
  expect(run.value.sha256(), 'the bytes at the UART').to.equal(expectedDigest(PING_PAGE));
  // The interface is free for the kernel again once the browser is gone.
  expect(r.rebound, 'ftdi_sio bound again at the end').to.deep.equal(r.before.kernelBound);
  return { run, r };
}

describe('VM: the Web Serial page in Chromium on a real kernel (QEMU usb-serial; opt-in)', function () {
  this.timeout(GUEST_TIMEOUT_MS + 60_000);
  skipWithoutVm();
  const table: string[] = [];

  before(async () => {
    await buildPage();
  });

  after(() => {
    if (table.length === 0) return;
    console.log(`      [vm] ${BYTES / 1024} KiB loopback at 115200 8N1 through QEMU's FTDI, one guest each:`);
    for (const row of table) console.log(`      [vm]   ${row}`);
  });

  it('AutomaticUsbDetach: the policy-granted FTDI seen without a gesture, Chromium detaches ftdi_sio at claim, 64 KiB byte-exact, the interface free for ftdi_sio after the browser', async () => {
    const { run, r } = await browserPhase('auto-detach');
    const b = r.browser;
    const back = b.kernelBoundAfterTabClose.length ? 'when the tab closed' : b.kernelBoundAfter.length ? 'when the browser exited' : 'not by Chromium (bound by hand)';
    console.log(`      [vm] AutomaticUsbDetach: ftdi_sio back ${back}`);
    table.push(`Chromium, AutomaticUsbDetach: boot ${s(run.timings.bootMs)}, Chromium up ${s(b.launchMs)}, page load ${s(b.loadMs)}, page load to first echo ${s(b.loadToFirstEchoMs)}, ${b.loopback.kiBps} KiB/s`);
  });

  it('sysfs unbind: with ftdi_sio bound the page offers no port (control); unbound, the reloaded page loops 64 KiB back byte-exact', async () => {
    const { run, r } = await browserPhase('unbind');
    // The control: with ftdi_sio bound and no AutomaticUsbDetach, Chromium cannot claim the
    // interface, so our driver does not bind and the page offers no port.
    expect(r.browser.beforeOpen!.ports).to.equal(0);
    expect(r.browser.beforeOpen!.afterUnbind).to.deep.equal([]);
    expect(r.browser.kernelBoundAfterTabClose, 'unbound by hand: nothing gives it back').to.deep.equal([]);
    expect(r.browser.kernelBoundAfter, 'unbound by hand: nothing gives it back').to.deep.equal([]);
    const b = r.browser;
    table.push(`Chromium, sysfs unbind: boot ${s(run.timings.bootMs)}, Chromium up ${s(b.launchMs)}, page (re)load ${s(b.loadMs)}, page load to first echo ${s(b.loadToFirstEchoMs)}, ${b.loopback.kiBps} KiB/s`);
  });

  it('Node: the same stack on libusb, the same 64 KiB byte-exact', async () => {
    const run = await bootGuest<NodeResult>('hardware-tests/vm/jobs/browser-node.ts', {});
    logTimings('node', run);
    if (run.status !== 0) throw jobFailed('node job', run);
    const n = run.result;
    console.log(`      [vm] Node (libusb, ${n.port}): first echo ${s(n.startToFirstEchoMs)} after creating the backend (${s(n.processToFirstEchoMs)} after the process started), ${BYTES / 1024} KiB in ${n.seconds} s (${n.kiBps} KiB/s)`);
    expect(n.received).to.equal(BYTES);
    expect(n.identical).to.equal(true);
    expect(run.value.bytes).to.equal(PING_NODE.length + BYTES);
    expect(run.value.sha256(), 'the bytes at the UART').to.equal(expectedDigest(PING_NODE));
    table.push(`Node on libusb: boot ${s(run.timings.bootMs)}, process start to first echo ${s(n.processToFirstEchoMs)} (backend creation to first echo ${s(n.startToFirstEchoMs)}), ${n.kiBps} KiB/s`);
  });
});
