// Part C: our emulated chips (mocks/) as real devices. The guest kernel enumerates each on
// dummy_hcd through a FunctionFS gadget (guest/functionfs-bridge.ts) and its own ftdi_sio /
// pl2303 binds it; /dev/ttyUSB* passes a loopback through the emulated wire at several settings.
// Checked against the kernel: every control request it sent (usbmon's record) reached the
// emulation in order and none timed out; the start-up and open sequences are the kernel's; each
// setting the kernel encoded is what the emulated chip decoded and ran.
import { expect } from 'chai';
import { withGuest, type GuestRun } from './runner.ts';
import { logTimings, skipWithoutVm } from './tier.ts';
import { checkBridgedDevice, runBridged } from './bridge-checks.ts';
import type { BridgeSetup } from './guest/emulation-side.ts';
import type { MonControl } from './guest/usbmon.ts';

type Setup = BridgeSetup;
interface Loop {
  baudRate: number;
  dataBits: number;
  parity: string;
  stopBits: number;
  chipSide: { baudRate: number; dataBits: number; parity: string; stopBits: number; flow?: string };
  lineCoding?: string;
  requests: string[];
  sent: number;
  received: number;
  identical: boolean;
  firstDiff?: number;
  ms: number;
}
interface GadgetResult {
  error?: string;
  enumerated?: { driver?: string; tty?: string; endpoints?: string[]; ms: number };
  startup?: string[];
  loopbacks?: Loop[];
  bridge?: { errors: string[]; events?: string[]; setups: Setup[]; deviations: string[]; endpointFiles: string[] };
  usbmon?: { controls: MonControl[]; lines: number };
  latency?: { all: { count: number; p50: number; p90: number; max: number } };
  chip?: { refusals?: { wValue: number }[]; rejectedBauds?: string[]; type?: string };
  ms?: number;
}

/**
 * The checks every bridged device gets (bridge-checks.ts's checkBridgedDevice) once the job ran
 * without an error; prints the counts, latencies and the endpoint files the bridge opened.
 */
function checkBridge(label: string, run: GuestRun<unknown>, expectedStalls: string[] = []): GadgetResult {
  expect([0, 137], `job exit status\n${run.jobLog.slice(-2000)}`).to.include(run.status);
  const r = run.result as GadgetResult;
  expect(r.error, 'job error').to.equal(undefined);
  const line = checkBridgedDevice(label, { ...(r.bridge ? { bridge: r.bridge } : {}), ...(r.usbmon ? { usbmon: r.usbmon } : {}), ...(r.latency ? { latency: r.latency.all } : {}) }, expectedStalls);
  console.log(`      [vm] ${label}: ${line}`);
  console.log(`      [vm] ${label}: endpoint files ${r.bridge!.endpointFiles.join(', ')}`);
  return r;
}

const h = (n: number, w = 2) => n.toString(16).padStart(w, '0');

/** One guest run of a bridged job, once more when the kernel only gave up on a request in time (runBridged). */
const bridgedRun = (label: string, opts: Parameters<typeof withGuest>[0]): Promise<GuestRun<void>> =>
  runBridged(label, () => withGuest(opts), (run: GuestRun<void>) => [(run.result as GadgetResult | undefined) ?? {}]);

// ---- the kernel's PL2303 encoding (drivers/usb/serial/pl2303.c), written out to check the emulation against ----

const PL2303_DIRECT = [75, 150, 300, 600, 1200, 1800, 2400, 3600, 4800, 7200, 9600, 14400, 19200, 28800, 38400, 57600, 115200, 230400, 460800, 614400, 921600, 1228800, 2457600, 3000000, 6000000];

/** The 4 baud bytes pl2303_encode_baud_rate sends, and the rate it means. */
function kernelPl2303Baud(type: string, baud: number): { bytes: number[]; rate: number } {
  const le = (w: number) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, (w >>> 24) & 0xff];
  const max = { H: 1228800, HX: 6000000, TA: 6000000, TB: 12000000, HXD: 12000000, HXN: 12000000 }[type] ?? 12000000;
  baud = Math.min(baud, max);
  if (type === 'HXN') return { bytes: le(baud), rate: baud };
  // pl2303_get_supported_baud_rate: the nearest table entry; direct only if it is exact.
  if (PL2303_DIRECT.includes(baud)) return { bytes: le(baud), rate: baud };
  const baseline = 12_000_000 * 32;
  if (type === 'TA' || type === 'TB') {
    // pl2303_encode_baud_rate_divisor_alt
    let mantissa = Math.floor(baseline / baud) || 1;
    let exponent = 0;
    while (mantissa >= 2048) {
      if (exponent < 15) {
        mantissa >>= 1;
        exponent++;
      } else {
        mantissa = 2047;
        break;
      }
    }
    return { bytes: [mantissa & 0xff, ((exponent & ~1) << 4) | (mantissa >> 8), exponent & 1, 0x80], rate: Math.floor(baseline / mantissa) >> exponent };
  }
  // pl2303_encode_baud_rate_divisor
  let mantissa = Math.floor(baseline / baud) || 1;
  let exponent = 0;
  while (mantissa >= 512) {
    if (exponent < 7) {
      mantissa >>= 2;
      exponent++;
    } else {
      mantissa = 511;
      break;
    }
  }
  return { bytes: [mantissa & 0xff, (exponent << 1) | (mantissa >> 8), 0, 0x80], rate: Math.floor(baseline / mantissa) >> (exponent << 1) };
}

/** The 7 SET_LINE bytes the kernel sends for these settings. */
function kernelPl2303Line(type: string, l: Loop): string {
  const stop = { 1: 0, 1.5: 1, 2: 2 }[l.stopBits as 1 | 2]!;
  const parity = ['none', 'odd', 'even', 'mark', 'space'].indexOf(l.parity);
  return Buffer.from([...kernelPl2303Baud(type, l.baudRate).bytes, stop, parity, l.dataBits]).toString('hex');
}

/** pl2303_startup for every type but HXN (the vendor reads and writes of the Prolific init). */
const PL2303_STARTUP = [
  'c0/01 v8484 i0000 l1',
  '40/01 v0404 i0000 l0',
  'c0/01 v8484 i0000 l1',
  'c0/01 v8383 i0000 l1',
  'c0/01 v8484 i0000 l1',
  '40/01 v0404 i0001 l0',
  'c0/01 v8484 i0000 l1',
  'c0/01 v8383 i0000 l1',
  '40/01 v0000 i0001 l0',
  '40/01 v0001 i0000 l0',
  '40/01 v0002 i0044 l0',
];

describe('VM: our emulated chips as real devices (dummy_hcd + FunctionFS) under the kernel ftdi_sio / pl2303', function () {
  this.timeout(300_000);
  skipWithoutVm();

  it('FT232R: the kernel binds it, every control request reaches the emulation, and a loopback through /dev/ttyUSB* is byte-exact at each setting', async () => {
    // Thread pool: ep0 and each endpoint pump block a thread each in FunctionFS reads/writes.
    const run = await bridgedRun('FT232R', { job: 'hardware-tests/vm/jobs/gadget-ftdi.ts', env: { UV_THREADPOOL_SIZE: '16' }, timeoutMs: 240_000 });
    logTimings('FunctionFS FT232R', run);
    // The job ends with SIGKILL once its result is written: FunctionFS reads still hold
    // thread-pool threads, and a normal exit joins them.
    const r = checkBridge('FT232R', run);
    expect(r.enumerated?.driver, 'driver bound to the emulated FT232R').to.equal('ftdi_sio');
    expect(run.dmesg, 'ftdi_sio detection').to.match(/Detected FT232R/);
    expect(r.loopbacks).to.have.length(5);
    for (const l of r.loopbacks!) {
      const what = `${l.baudRate} ${l.dataBits}${l.parity[0]!.toUpperCase()}${l.stopBits}`;
      expect(l.received, `${what}: bytes back`).to.equal(l.sent);
      expect(l.identical, `${what}: byte-exact (first difference at ${l.firstDiff})`).to.equal(true);
      // The kernel's encoding, decoded by our emulation: within FTDI's 3 %, and the line settings.
      expect(Math.abs(l.chipSide.baudRate - l.baudRate) / l.baudRate, `${what}: baud the chip runs`).to.be.below(0.03);
      expect(l.chipSide).to.deep.include({ dataBits: l.dataBits, parity: l.parity, stopBits: l.stopBits });
      expect(l.requests.filter((x) => /stall|error/.test(x)), `${what}: requests our emulation refused`).to.deep.equal([]);
    }
    console.log(`      [vm] FT232R: kernel open at 115200 8N1 sent: ${r.loopbacks![1]!.requests.join(', ')}`);
  });

  // Every type the kernel can tell apart on a bcdUSB 2.00 gadget: TA, TB, and HXN both outright
  // (GC, bcdDevice 1.00) and by the failed HX status read (GT: bcdDevice 3.00 like a TA).
  const KERNEL_TYPE = { PL2303TA: 'TA', PL2303TB: 'TB', PL2303GC: 'HXN', PL2303GT: 'HXN' } as const;
  for (const part of ['PL2303TA', 'PL2303TB', 'PL2303GC', 'PL2303GT'] as const) {
    it(`${part}: the kernel's pl2303 binds it, its start-up and every line coding reach the emulation, and the chip runs each setting (one divisor-encoded baud); loopback byte-exact`, async () => {
      const run = await bridgedRun(part, { job: 'hardware-tests/vm/jobs/gadget-pl2303.ts', env: { UV_THREADPOOL_SIZE: '16', VM_GADGET_PART: part }, timeoutMs: 240_000 });
      logTimings(`FunctionFS ${part}`, run);
      const type = KERNEL_TYPE[part];
      // GT: the HX status read the kernel probes with stalls, as on the real part.
      const r = checkBridge(part, run, type === 'HXN' && part !== 'PL2303GC' ? ['c0/01 v8080 i0000 l1'] : []);
      expect(r.chip?.type).to.equal(type);
      expect(r.enumerated?.driver, `driver bound to the emulated ${part}`).to.equal('pl2303');
      expect(run.dmesg, 'pl2303 attached').to.match(/pl2303 converter now attached to ttyUSB/);
      expect(run.dmesg.split('\n').filter((l) => /pl2303.*(failed|error)/i.test(l)), 'pl2303 errors in dmesg').to.deep.equal([]);
      // The one refusal the kernel counts on: an HXN part stalls the HX status read (GT).
      const hxStatusProbed = part !== 'PL2303GC';
      expect((r.chip?.refusals ?? []).map((x) => h(x.wValue, 4)), 'requests the emulated chip refused').to.deep.equal(type === 'HXN' && hxStatusProbed ? ['8080'] : []);
      expect(r.chip?.rejectedBauds, 'baud fields the emulated chip could not run').to.deep.equal([]);

      // Start-up (probe): type detection, then pl2303_startup. bcdDevice 3.00 / 5.00 is a TA / TB
      // only if the HX status read 0x8080 succeeds (GT: it stalls, so HXN); GC (bcdDevice 1.00) is
      // HXN outright. HXN parts get no legacy init.
      const startup = (r.startup ?? []).map((s) => s.replace(/: .*/, ''));
      const detect = hxStatusProbed ? ['c0/01 v8080 i0000 l1'] : [];
      expect(startup).to.deep.equal(type === 'HXN' ? detect : [...detect, ...PL2303_STARTUP]);

      expect(r.loopbacks).to.have.length(5);
      for (const l of r.loopbacks!) {
        const what = `${l.baudRate} ${l.dataBits}${l.parity[0]!.toUpperCase()}${l.stopBits}`;
        expect(l.received, `${what}: bytes back`).to.equal(l.sent);
        expect(l.identical, `${what}: byte-exact`).to.equal(true);
        expect(l.requests.filter((x) => /stall|error/.test(x)), `${what}: requests our emulation refused`).to.deep.equal([]);
        // Open: the pipe resets (reg 8 and 9 = 0; HXN: reg 7 = 3), before any line request.
        const open = type === 'HXN' ? ['40/80 v0007 i0003 l0'] : ['40/01 v0008 i0000 l0', '40/01 v0009 i0000 l0'];
        expect(l.requests.slice(0, open.length).map((s) => s.replace(/: .*/, '')), `${what}: open`).to.deep.equal(open);
        expect(l.requests.some((s) => s.startsWith('21/22 v0003')), `${what}: SET_CONTROL DTR|RTS`).to.equal(true);
        // The last SET_LINE of the session is the kernel's encoding of the settings ...
        const lines = l.requests.filter((s) => s.startsWith('21/20'));
        const last = /\[([0-9a-f]{14})\]/.exec(lines[lines.length - 1] ?? '')?.[1];
        expect(last, `${what}: the SET_LINE the kernel sent`).to.equal(kernelPl2303Line(type, l));
        // ... and the emulated chip runs exactly what it encodes.
        const c = l.chipSide;
        expect(c.baudRate, `${what}: baud the chip runs`).to.equal(kernelPl2303Baud(type, l.baudRate).rate);
        expect(Math.abs(c.baudRate - l.baudRate) / l.baudRate, `${what}: within PL2303's 3 %`).to.be.below(0.03);
        expect({ dataBits: c.dataBits, parity: c.parity, stopBits: c.stopBits }, `${what}: framing the chip runs`).to.deep.equal({ dataBits: l.dataBits, parity: l.parity, stopBits: l.stopBits });
        const encoding = PL2303_DIRECT.includes(l.baudRate) || type === 'HXN' ? 'direct' : 'divisor';
        console.log(`      [vm] ${part} ${what}: SET_LINE ${last} (${encoding}); the emulated chip ran ${c.baudRate} ${c.dataBits}${c.parity[0]!.toUpperCase()}${c.stopBits}`);
      }
    });
  }

  // Our own drivers (drivers/ftdi, drivers/pl2303) through the `usb` package (libusb) against the
  // same bridged chips: the kernel's driver has the device first, ours takes the interface, runs
  // the port at several settings (the emulated chip must run exactly those), and gives it back.
  for (const part of ['FT232R', 'PL2303TA', 'PL2303GC'] as const) {
    it(`${part}: our driver takes it from the kernel's, the chip runs each setting ours asks for, loopback byte-exact, and the kernel's driver gets it back`, async () => {
      const run = await bridgedRun(`ours on ${part}`, { job: 'hardware-tests/vm/jobs/gadget-ours.ts', env: { UV_THREADPOOL_SIZE: '16', VM_GADGET_PART: part }, timeoutMs: 240_000 });
      logTimings(`ours on ${part}`, run);
      const r = checkBridge(`ours on ${part}`, run) as GadgetResult & {
        kernelFirst?: { driver?: string };
        bound?: { detected?: string; sysfs?: { driver?: string }; claimed?: boolean; kernelDriverDetached?: boolean; requests: string[] };
        sessions?: (Loop & { applied: { baudRate: number; dataBits: number; parity: string; stopBits: number } })[];
        released?: { driver?: string; tty?: string; claimed?: boolean; error?: string };
      };
      const ftdi = part === 'FT232R';
      const kernelDriver = ftdi ? 'ftdi_sio' : 'pl2303';
      const type = part === 'PL2303TA' ? 'TA' : 'HXN';
      expect(r.kernelFirst?.driver, "the kernel's driver had it first").to.equal(kernelDriver);
      expect(r.bound?.detected, 'what our driver detected').to.equal(ftdi ? 'FT232R' : type);
      expect(r.bound?.sysfs?.driver, "the interface, taken from the kernel's driver").to.equal('usbfs');
      expect(r.bound?.claimed).to.equal(true);
      expect(r.chip?.refusals, 'requests the emulated chip refused').to.deep.equal([]);
      expect(r.chip?.rejectedBauds ?? [], 'baud fields the emulated chip could not run').to.deep.equal([]);
      if (!ftdi) {
        // Our start-up is the kernel's, request for request.
        const startup = r.bound!.requests.map((s) => s.replace(/: .*/, ''));
        expect(startup, 'our PL2303 start-up').to.deep.equal(type === 'TA' ? ['c0/01 v8080 i0000 l1', ...PL2303_STARTUP] : []);
      }
      expect(r.sessions).to.have.length(4);
      for (const l of r.sessions!) {
        const what = `${l.baudRate} ${l.dataBits}${l.parity[0]!.toUpperCase()}${l.stopBits}`;
        expect(l.received, `${what}: bytes back`).to.equal(l.sent);
        expect(l.identical, `${what}: byte-exact (first difference at ${l.firstDiff})`).to.equal(true);
        const c = l.chipSide;
        expect({ dataBits: c.dataBits, parity: c.parity, stopBits: c.stopBits }, `${what}: framing the chip runs`).to.deep.equal({ dataBits: l.dataBits, parity: l.parity, stopBits: l.stopBits });
        expect(c.baudRate, `${what}: the chip runs the rate our driver reports`).to.equal(l.applied.baudRate);
        expect(Math.abs(c.baudRate - l.baudRate) / l.baudRate, `${what}: within 3 %`).to.be.below(0.03);
        if (!ftdi) {
          const lines = l.requests.filter((s) => s.startsWith('21/20'));
          const last = /\[([0-9a-f]{14})\]/.exec(lines[lines.length - 1] ?? '')?.[1];
          expect(last, `${what}: our SET_LINE = the kernel's encoding`).to.equal(kernelPl2303Line(type, l));
        }
        console.log(`      [vm] ours on ${part} ${what}: the emulated chip ran ${c.baudRate} ${c.dataBits}${c.parity[0]!.toUpperCase()}${c.stopBits} (${l.ms} ms)`);
      }
      expect(r.released?.error, "the kernel's driver back").to.equal(undefined);
      expect(r.released?.driver, "the kernel's driver back on the interface").to.equal(kernelDriver);
      expect(r.released?.tty, 'its ttyUSB back').to.match(/^ttyUSB\d+$/);
      expect(r.released?.claimed).to.equal(false);
    });
  }
});
