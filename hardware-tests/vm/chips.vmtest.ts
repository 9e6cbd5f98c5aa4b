// Part C for CP210x and CH34x: our emulated chips (mocks/cp210x, mocks/ch34x) as real devices on
// dummy_hcd + FunctionFS (jobs/gadget-chips.ts), one guest per family. The kernel's own cp210x /
// ch341 binds every interface (a CP2102, both ports of a CP2105, a CH340); per setting, what the
// kernel sent is our encoders' value (encodeCp210xBaud, encodeCh341Baud, the LINE_CTL/LCR
// encoders), the emulated chip runs the rate the part computes, DTR/RTS reach the chip and come
// back through the loopback plug as CTS/DSR/DCD, and /dev/ttyUSB* loops back byte-exact. Then our
// drivers take every interface from the kernel's (detach), run the ports, and give them back
// (attach; the ttyUSB come back).
import { expect } from 'chai';
import { withGuest } from './runner.ts';
import { logTimings, skipWithoutVm } from './tier.ts';
import { checkBridgedDevice, lastRequest, runBridged, type BridgedDeviceRecord } from './bridge-checks.ts';
import { encodeCp210xBaud, encodeCp210xLineCtl, cp210xBaudPart, type Cp210xBaudPart } from '../../drivers/cp210x/index.ts';
import { encodeCh341Baud, encodeCh341Lcr, encodeCh341ModemControl } from '../../drivers/ch341/index.ts';

interface ChipSide {
  baudRate: number;
  dataBits: number;
  parity: string;
  stopBits: number;
  dtr: boolean;
  rts: boolean;
  baudValue?: number;
  lineCtl?: number;
  flow?: { ctsHandshake: boolean; rtsMode: number; dtrMode: number };
  registers?: Record<string, number>;
}
interface Session {
  baudRate: number;
  dataBits: 7 | 8;
  parity: 'none' | 'odd' | 'even';
  stopBits: 1 | 2;
  rtscts?: boolean;
  chipSide: ChipSide;
  requests: string[];
  modem?: { set: { dtr: boolean; rts: boolean }; got: { cts: boolean; dsr: boolean; dcd: boolean }; chip: { dtr: boolean; rts: boolean } }[];
  applied?: { baudRate: number; dataBits: number; parity: string; stopBits: number; flowControl: string };
  sent: number;
  received: number;
  firstDiff: number;
  ms: number;
}
interface DeviceRecord extends BridgedDeviceRecord {
  part: string;
  bus: number;
  kernel?: { interfaces: { number: number; driver?: string; tty?: string }[]; probe: string[]; ports: { interface: number; tty: string; sessions: Session[]; closeRequests: string[] }[] };
  ours?: {
    probe: string[];
    sysfs?: { interfaces: { number: number; driver?: string }[] };
    ports: { interface: number; claimed: boolean; kernelDriverDetached: boolean; detected?: Record<string, unknown>; sessions: Session[]; closeRequests: string[] }[];
    released?: { interfaces?: { number: number; driver?: string; tty?: string }[]; error?: string };
  };
  refusals?: { bRequest: number; wValue: number; wIndex: number; reason: string }[];
  rejectedBauds?: string[];
}
interface ChipsResult {
  error?: string;
  devices: DeviceRecord[];
  ms: number;
}

const what = (s: Session) => `${s.baudRate} ${s.dataBits}${s.parity[0]!.toUpperCase()}${s.stopBits}${s.rtscts ? ' RTS/CTS' : ''}`;
const u32le = (hex: string) => Buffer.from(hex, 'hex').readUInt32LE(0);

/** The checks every session gets: the loopback was byte-exact and the emulation refused nothing. */
function checkLoopback(label: string, s: Session): void {
  expect(s.received, `${label}: bytes back`).to.equal(s.sent);
  expect(s.firstDiff, `${label}: byte-exact (first difference at ${s.firstDiff})`).to.equal(-1);
  expect(s.requests.filter((x) => /stall|error/.test(x)), `${label}: requests the emulation refused`).to.deep.equal([]);
  expect({ dataBits: s.chipSide.dataBits, parity: s.chipSide.parity, stopBits: s.chipSide.stopBits }, `${label}: framing the chip runs`).to.deep.equal({ dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits });
}

/** DTR/RTS set through the tty reached the chip and came back through the loopback plug (RTS→CTS, DTR→DSR+DCD); in each port's first session. */
function checkModem(label: string, s: Session, first: boolean): void {
  if (!first) return;
  expect(s.modem, `${label}: modem line checks`).to.have.length(2);
  for (const m of s.modem!) {
    expect(m.chip, `${label}: the chip's DTR/RTS after TIOCMSET ${JSON.stringify(m.set)}`).to.deep.equal(m.set);
    expect(m.got, `${label}: TIOCMGET through the loopback plug`).to.deep.equal({ cts: m.set.rts, dsr: m.set.dtr, dcd: m.set.dtr });
  }
}

function released(label: string, d: DeviceRecord, kernelDriver: string, ports: number): void {
  expect(d.ours?.released?.error, `${label}: the kernel's driver back`).to.equal(undefined);
  const back = d.ours!.released!.interfaces ?? [];
  expect(back.map((i) => i.driver), `${label}: the kernel's driver back on every interface`).to.deep.equal(Array(ports).fill(kernelDriver));
  for (const i of back) expect(i.tty, `${label}: interface ${i.number}'s ttyUSB back`).to.match(/^ttyUSB\d+$/);
}

describe('VM: CP210x and CH34x emulations as real devices (dummy_hcd + FunctionFS) under the kernel cp210x / ch341, then our drivers', function () {
  this.timeout(300_000);
  skipWithoutVm();

  it('CP2102 and CP2105 (both ports): the kernel cp210x sends our encodings, the chip runs them, DTR/RTS and RTS/CTS reach it, ttyUSB loops back byte-exact; our cp210x takes all three interfaces and gives them back', async () => {
    const run = await runBridged('CP210x', () => withGuest({ job: 'hardware-tests/vm/jobs/gadget-chips.ts', env: { VM_CHIPS_FAMILY: 'cp210x' }, timeoutMs: 240_000 }), (x) => (x.result as ChipsResult | undefined)?.devices ?? []);
    logTimings('CP210x', run);
    const r = run.result as ChipsResult;
    expect([0, 137], `job exit status\n${run.jobLog.slice(-3000)}`).to.include(run.status);
    expect(r.error, 'job error').to.equal(undefined);
    const [cp2102, cp2105] = r.devices;
    for (const d of [cp2102!, cp2105!]) {
      console.log(`      [vm] ${d.part}: ${checkBridgedDevice(d.part, d)}`);
      expect(d.refusals, `${d.part}: requests the emulated chip refused`).to.deep.equal([]);
      const ports = d.part === 'CP2105' ? 2 : 1;
      expect(d.kernel?.interfaces.map((i) => i.driver), `${d.part}: the kernel's cp210x on every interface`).to.deep.equal(Array(ports).fill('cp210x'));
      // Probe (`cp210x_attach` per interface): GET_PARTNUM; CP2102: the 2-byte quirk probe;
      // CP2105: GET_FW_VER and the pin set-up reads (`cp2105_gpioconf_init`).
      const probe = d.kernel!.probe.map((l) => l.replace(/: .*/, ''));
      const perIntf = (n: number) =>
        d.part === 'CP2102' ? [`c0/ff v370b i000${n} l1`, `c0/ff v370b i000${n} l2`] : [`c0/ff v370b i000${n} l1`, `c0/ff v000e i000${n} l3`, `c0/ff v3711 i000${n} l2`, `c0/ff v370c i000${n} l15`];
      expect([...probe].sort(), `${d.part}: the kernel's probe requests`).to.deep.equal(Array.from({ length: ports }, (_, n) => perIntf(n)).flat().sort());
      expect(d.rejectedBauds, `${d.part}: baud values the chip could not run`).to.deep.equal([]);

      for (const p of d.kernel!.ports) {
        const part: Cp210xBaudPart = cp210xBaudPart(d.part === 'CP2105' ? 'CP2105' : 'CP2102', p.interface);
        for (const s of p.sessions) {
          const label = `kernel cp210x, ${part} if${p.interface} ${what(s)}`;
          checkLoopback(label, s);
          checkModem(label, s, s === p.sessions[0]);
          const idx = `i000${p.interface}`;
          const enc = encodeCp210xBaud(part, s.baudRate);
          const baud = lastRequest(s.requests, `41/1e v0000 ${idx}`);
          const sent = baud ? u32le(baud.data!) : undefined;
          expect(sent, `${label}: the SET_BAUDRATE value the kernel sent = encodeCp210xBaud`).to.equal(enc.value);
          expect(s.chipSide.baudValue, `${label}: the value the chip took`).to.equal(enc.value);
          expect(Math.abs(s.chipSide.baudRate - enc.actual), `${label}: the chip runs ${s.chipSide.baudRate}, the encoder says ${enc.actual}`).to.be.below(1);
          const lineCtl = lastRequest(s.requests, `41/03`);
          expect(lineCtl?.wValue, `${label}: SET_LINE_CTL = encodeCp210xLineCtl`).to.equal(encodeCp210xLineCtl(s));
          expect(lineCtl?.wIndex, `${label}: the port's interface`).to.equal(p.interface);
          const f = s.chipSide.flow!;
          // RTS/CTS: CTS handshake and RTS mode 2 (flow control); otherwise neither (RTS is then a
          // level SET_MHS sets, the mode the last SET_FLOW left: Linux writes it only on changes).
          expect({ cts: f.ctsHandshake, rtsFlow: f.rtsMode === 2 }, `${label}: flow structure the chip runs`).to.deep.equal({ cts: !!s.rtscts, rtsFlow: !!s.rtscts });
          console.log(`      [vm] ${label}: SET_BAUDRATE ${sent}, LINE_CTL 0x${lineCtl!.wValue.toString(16)}; the chip runs ${s.chipSide.baudRate.toFixed(0)} ${s.chipSide.dataBits}${s.chipSide.parity[0]!.toUpperCase()}${s.chipSide.stopBits}${f.ctsHandshake ? ' CTS-handshake RTS-mode 2' : ''} (${s.ms} ms)`);
        }
        // Close (`cp210x_close`): PURGE all, then IFC_ENABLE(0).
        expect(p.closeRequests.map((l) => l.replace(/: .*/, '')).slice(-2), `${d.part} if${p.interface}: close`).to.deep.equal([`41/12 v000f i000${p.interface} l0`, `41/00 v0000 i000${p.interface} l0`]);
      }

      // Our driver: detach, the same encodings, the chip runs what our driver reports, and back.
      const ours = d.ours!;
      expect(ours.ports.map((p) => p.interface), `${d.part}: ports of ours`).to.deep.equal(Array.from({ length: ports }, (_, n) => n));
      expect(ours.sysfs?.interfaces.map((i) => i.driver), `${d.part}: interfaces taken from the kernel's cp210x`).to.deep.equal(Array(ports).fill('usbfs'));
      for (const p of ours.ports) {
        const part = cp210xBaudPart(d.part === 'CP2105' ? 'CP2105' : 'CP2102', p.interface);
        expect(p.detected?.baudPart, `${d.part} if${p.interface}: what our driver detected`).to.equal(part);
        expect(p.claimed && p.kernelDriverDetached, `${d.part} if${p.interface}: claimed after detaching the kernel's driver`).to.equal(true);
        for (const s of p.sessions) {
          const label = `ours, ${part} if${p.interface} ${what(s)}`;
          checkLoopback(label, s);
          const enc = encodeCp210xBaud(part, s.baudRate);
          expect(s.chipSide.baudValue, `${label}: the value the chip took = the kernel's encoding`).to.equal(enc.value);
          expect(Math.abs(s.chipSide.baudRate - s.applied!.baudRate), `${label}: the chip runs ${s.chipSide.baudRate}, our driver reports ${s.applied!.baudRate}`).to.be.below(1);
          expect(s.chipSide.flow!.ctsHandshake, `${label}: CTS handshake`).to.equal(!!s.rtscts);
          console.log(`      [vm] ${label}: the chip runs ${s.chipSide.baudRate.toFixed(0)} (ours reports ${s.applied!.baudRate}) (${s.ms} ms)`);
        }
      }
      released(d.part, d, 'cp210x', ports);
    }
  });

  it('CH340: the kernel ch341 sends our divisor/prescaler and LCR encodings, the chip runs them, DTR/RTS reach it and come back, ttyUSB loops back byte-exact; our ch341 takes it and gives it back', async () => {
    const run = await runBridged('CH340', () => withGuest({ job: 'hardware-tests/vm/jobs/gadget-chips.ts', env: { VM_CHIPS_FAMILY: 'ch34x' }, timeoutMs: 240_000 }), (x) => (x.result as ChipsResult | undefined)?.devices ?? []);
    logTimings('CH340', run);
    const r = run.result as ChipsResult;
    expect([0, 137], `job exit status\n${run.jobLog.slice(-3000)}`).to.include(run.status);
    expect(r.error, 'job error').to.equal(undefined);
    const d = r.devices[0]!;
    console.log(`      [vm] CH340: ${checkBridgedDevice('CH340', d)}`);
    expect(d.kernel?.interfaces.map((i) => i.driver)).to.deep.equal(['ch341']);
    expect(d.rejectedBauds, 'divisor/prescaler pairs the chip could not run').to.deep.equal([]);
    const VERSION = 0x31;
    // Probe (`ch341_configure`, `ch341_detect_quirks`): version, init, 9600 8N1, modem control, the
    // break-register probe (answered: no quirks).
    const probe = d.kernel!.probe.map((l) => l.replace(/: .*/, ''));
    const init = encodeCh341Baud(9600, VERSION).wIndex;
    expect(probe, "the kernel's probe").to.deep.equal([
      'c0/5f v0000 i0000 l2',
      '40/a1 v0000 i0000 l0',
      `40/9a v1312 i${init.toString(16).padStart(4, '0')} l0`,
      `40/9a v2518 i00${encodeCh341Lcr({ dataBits: 8, parity: 'none', stopBits: 1 }).toString(16)} l0`,
      `40/a4 v${encodeCh341ModemControl(false, false).toString(16).padStart(4, '0')} i0000 l0`,
      'c0/95 v0005 i0000 l2',
    ]);
    for (const s of d.kernel!.ports[0]!.sessions) {
      const label = `kernel ch341 ${what(s)}`;
      checkLoopback(label, s);
      checkModem(label, s, s === d.kernel!.ports[0]!.sessions[0]);
      const enc = encodeCh341Baud(s.baudRate, VERSION);
      const baud = lastRequest(s.requests, '40/9a v1312');
      expect(baud?.wIndex, `${label}: WRITE_REG 0x1312 the kernel sent = encodeCh341Baud`).to.equal(enc.wIndex);
      const lcr = lastRequest(s.requests, '40/9a v2518');
      expect(lcr?.wIndex, `${label}: WRITE_REG 0x2518 = encodeCh341Lcr`).to.equal(encodeCh341Lcr(s));
      expect({ ps: s.chipSide.registers!['12'], div: s.chipSide.registers!['13'] }, `${label}: the chip's prescaler/divisor registers`).to.deep.equal({ ps: enc.wIndex & 0xff, div: enc.wIndex >> 8 });
      expect(Math.abs(s.chipSide.baudRate - enc.actual) / enc.actual, `${label}: the chip runs ${s.chipSide.baudRate}, the encoder says ${enc.actual}`).to.be.below(1e-9);
      console.log(`      [vm] ${label}: WRITE_REG 1312 ${baud!.wIndex.toString(16)}, LCR ${lcr!.wIndex.toString(16)}; the chip runs ${s.chipSide.baudRate.toFixed(1)} ${s.chipSide.dataBits}${s.chipSide.parity[0]!.toUpperCase()}${s.chipSide.stopBits} (${s.ms} ms)`);
    }
    const ours = d.ours!;
    expect(ours.sysfs?.interfaces.map((i) => i.driver), "the interface, taken from the kernel's ch341").to.deep.equal(['usbfs']);
    const p = ours.ports[0]!;
    expect(p.detected, 'what our driver detected').to.deep.include({ version: VERSION });
    expect(p.claimed && p.kernelDriverDetached).to.equal(true);
    // Our probe is the kernel's, request for request.
    expect(ours.probe.map((l) => l.replace(/: .*/, '')), 'our start-up').to.deep.equal(probe);
    for (const s of p.sessions) {
      const label = `ours ch341 ${what(s)}`;
      checkLoopback(label, s);
      const enc = encodeCh341Baud(s.baudRate, VERSION);
      expect(lastRequest(s.requests, '40/9a v1312')?.wIndex, `${label}: the kernel's encoding`).to.equal(enc.wIndex);
      expect(Math.abs(s.chipSide.baudRate - s.applied!.baudRate), `${label}: the chip runs ${s.chipSide.baudRate}, ours reports ${s.applied!.baudRate}`).to.be.below(1);
      console.log(`      [vm] ${label}: the chip runs ${s.chipSide.baudRate.toFixed(1)} (ours reports ${s.applied!.baudRate}) (${s.ms} ms)`);
    }
    released('CH340', d, 'ch341', 1);
  });
});
