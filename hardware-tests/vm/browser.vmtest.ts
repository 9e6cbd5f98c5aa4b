// Opt-in (USB_HARNESS_VM_BROWSER=1, see run-tier.ts): the Web Serial page (web/) in the guest's
// Chromium on QEMU's emulated FTDI through the real kernel, granted by the managed policy
// WebUsbAllowDevicesForUrls, with the kernel's ftdi_sio let go of the interface in both ways
// Chromium allows (sysfs unbind; the AutomaticUsbDetach feature). A byte-exact Web Serial loopback
// through the host's echo peer, read off the page's DOM, next to the same loopback in Node (our
// FTDI driver on libusb in the same guest). Chromium under TCG takes minutes, hence opt-in.
import { expect } from 'chai';
import { withGuest } from './runner.ts';
import { echoPeer } from './peers.ts';
import { jobFailed, logTimings, skipWithoutVm } from './tier.ts';
import { buildPage } from '../../web/build.ts';

const BYTES = 64 * 1024;
/** What the page sends as its first line ("ping from chromium" + LF, the page's default line end). */
const PING_PAGE = 'ping from chromium\n'.length;
const PING_NODE = 'ping from node\r\n'.length;

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
  loopback: { outcome: string; text: string; progress: number; seconds: number; kBps: number };
  closed: string;
  pageErrors: string[];
  kernelBoundAfter: string[];
  /** The phase's failure, when it failed (the job goes on with the next). */
  error?: string;
}

interface Result {
  bytes: number;
  before: { kernelBound: string[] };
  unbind: BrowserRun;
  rebound: string[];
  autoDetach: BrowserRun;
  node: { startToFirstEchoMs: number; received: number; identical: boolean; seconds: number; kBps: number };
}

function expectLoopedBack(r: BrowserRun): void {
  expect(r.error, `${r.label}: the phase failed`).to.equal(undefined);
  expect(r.ready, `${r.label}: page start`).to.equal('true');
  expect(r.mode).to.contain('Real USB');
  // The policy grants QEMU's FTDI to the page's origin: listed with no chooser and no gesture.
  expect(r.getDevices).to.have.length(1);
  expect(r.getDevices[0]).to.match(/^0403:6001 /);
  expect(r.status, `${r.label}: open`).to.match(/^Open at 115,200 baud 8N1/);
  expect(r.kernelBoundWhileOpen, `${r.label}: ftdi_sio let go while the page has the port`).to.deep.equal([]);
  expect(r.loopback.outcome, r.loopback.text).to.equal('pass');
  expect(r.loopback.text).to.match(/^65,536 bytes byte-exact in /);
  expect(r.loopback.progress).to.equal(1);
  expect(r.closed).to.contain('No port open');
  expect(r.pageErrors, `${r.label}: errors in the page`).to.deep.equal([]);
}

describe('VM: the Web Serial page in Chromium on a real kernel (QEMU usb-serial; opt-in)', function () {
  this.timeout(1_800_000);
  skipWithoutVm();

  it('policy-granted FTDI seen without a gesture; AutomaticUsbDetach, then ftdi_sio unbound via sysfs; 64 KiB byte-exact loopback in the page, and in Node', async () => {
    await buildPage();
    const run = await withGuest(
      { devices: [{ id: 'ftdi' }], job: 'hardware-tests/vm/jobs/browser-webserial.ts', env: { VM_BYTES: String(BYTES) }, memoryMb: 2048, timeoutMs: 1_700_000 },
      async (guest) => echoPeer(await guest.serial('ftdi')),
    );
    logTimings('browser', run);
    if (run.status !== 0) throw jobFailed('browser job', run);
    const r = run.result as Result;
    for (const b of [r.autoDetach, r.unbind]) {
      if (b.error) console.log(`      [vm] ${b.label}: failed: ${b.error}`);
      else console.log(`      [vm] ${b.label}: Chromium up in ${(b.launchMs / 1000).toFixed(1)} s, page load ${(b.loadMs / 1000).toFixed(1)} s, page load to first echo ${(b.loadToFirstEchoMs / 1000).toFixed(1)} s, ${BYTES / 1024} KiB looped back in ${b.loopback.seconds} s (${b.loopback.kBps} kB/s)`);
    }
    console.log(`      [vm] Node (ours on libusb): start to first echo ${(r.node.startToFirstEchoMs / 1000).toFixed(1)} s, ${BYTES / 1024} KiB in ${r.node.seconds} s (${r.node.kBps} kB/s)`);

    expect(r.before.kernelBound).to.have.length(1);
    // The control: with ftdi_sio bound and no AutomaticUsbDetach, Chromium cannot claim the
    // interface, so our driver does not bind and the page offers no port.
    expect(r.unbind.beforeOpen!.ports).to.equal(0);
    expect(r.unbind.beforeOpen!.afterUnbind).to.deep.equal([]);
    // (a) sysfs unbind, then the same page opens the port and loops back.
    expectLoopedBack(r.unbind);
    expect(r.unbind.kernelBoundAfter, 'unbound by hand: nothing gives it back').to.deep.equal([]);
    expect(r.rebound).to.deep.equal(r.before.kernelBound);
    // (b) AutomaticUsbDetach: Chromium detaches ftdi_sio at claim, the kernel takes it back on close.
    expectLoopedBack(r.autoDetach);
    expect(r.autoDetach.kernelBoundAfter).to.deep.equal(r.before.kernelBound);
    // Node, same guest, same bytes.
    expect(r.node.received).to.equal(BYTES);
    expect(r.node.identical).to.equal(true);
    // The host's side of the UART saw exactly the three pings and three loopbacks.
    expect(run.value.bytes).to.equal(2 * (PING_PAGE + BYTES) + PING_NODE + BYTES);
  });
});
