// (h) Hub port power on a real kernel: QEMU's usb-hub with per-port power switching behind
// xhci, three QEMU FTDIs (echoed here) and a usb-kbd (not ours) on its ports. On libusb and
// nusb: `stress --dry-run` lists the hub, the dongles and the verdicts; the keyboard's port is
// refused without --force; a stress run power-cycles the FTDIs' ports through the ports' sysfs
// `disable` attribute while drivers register and deregister and bytes flow, with every invariant
// holding; the keyboard is never cycled and the kernel's hub driver stays bound. Cycles/s and
// plug-to-open are printed next to the mock lab's, measured by the same code.
import { expect } from 'chai';
import { defaultDriverSets } from '../../drivers/index.ts';
import { createMockLab } from '../../mocks/lab.ts';
import { DriverModel } from '../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers } from '../../src/serial/index.ts';
import { HubControl, measurePlugToOpen, runOnce, type HubInfo } from '../../src/stress/index.ts';
import { UsbSubsystem } from '../../src/usb/index.ts';
import { echoPeer } from './peers.ts';
import { withGuest } from './runner.ts';
import { jobFailed, logTimings, skipWithoutVm } from './tier.ts';

interface Snapshot {
  hubDriver: string | null;
  kbdDevnum: string | null;
  kbdProduct: string | null;
  kbdPortDisable: string | null;
  dongleDevnums: Record<string, string | null>;
}
interface Result {
  before: Snapshot;
  afterStress: Snapshot;
  after: Snapshot;
  dryRun: { exitCode: number; out: string[]; err: string[] };
  foreignRefused: { refused: boolean; message: string };
  stress: {
    ok: boolean;
    events: number;
    cycles: number;
    wallMs: number;
    counts: Record<string, string>;
    stoppedEarly: string | null;
    cyclesPerSecond: number;
    eventsPerSecond: number;
    violations: string[];
    violationCount: number;
    powerMethods: Record<string, number>;
    cycled: string[];
    hotplugDongles: string[];
    dongles: string[];
    links: string[];
    registrations: number;
    opens: number;
    bytesReceived: number;
    replay: string;
  };
  plugToOpen: { p50: number; p99: number; max: number; samples: number[]; methods: Record<string, number>; error?: string };
  unhandled: string[];
}

const DONGLES = ['1-1.1', '1-1.2', '1-1.3'];
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

/** The mock lab's figures, measured the same way: power-mode stress cycles/s, plug-to-open through the emulated hub. */
async function mockFigures(samples: number) {
  const r = await runOnce({ seed: 0x4ab, events: 1500, lab: () => createMockLab({ driverSets: defaultDriverSets() }), hotplug: 'power', timeline: false });
  const lab = createMockLab({ driverSets: defaultDriverSets() });
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const regs = [];
  try {
    for (const s of lab.driverSets) regs.push(await registerUsbSerialDrivers(s.specs, s.name, s.ids, { usbBus: usb.bus }));
    lab.plugAll();
    await lab.flush();
    await usb.attachBackend(lab.backend);
    await usb.settled();
    const hc = new HubControl(lab.hubBackends, { isOurs: (h) => lab.dongleOf(h) !== undefined, sysfsRoot: '' });
    const hub = (await hc.listHubs()).find((h) => h.name === '1-1') as HubInfo;
    const m = await measurePlugToOpen({
      usb,
      dongles: ['ft232r', 'ft2232h', 'pl2303hx', 'ft232h'],
      samples,
      dongleOf: (h) => lab.dongleOf(h),
      connect: (d, on) => hc.sendPower(hub.host, lab.hubPortOf(d)!.port, on),
    });
    return { cyclesPerSecond: r.cycles / (r.wallMs / 1000), logicalCyclesPerSecond: r.cycles / (r.logicalMs / 1000), p50: m.p50, p99: m.p99 };
  } finally {
    for (const reg of regs) await deregisterUsbSerialDrivers(reg);
    await usb.stop();
    await lab.close();
  }
}

describe('VM: hub port power through a real kernel (QEMU usb-hub, port-power=on)', function () {
  this.timeout(300_000);
  skipWithoutVm();
  const figures: Record<string, Result> = {};

  for (const backend of ['libusb', 'nusb'] as const) {
    it(`${backend}: dry run lists the hub; stress power-cycles only our ports by sysfs disable; invariants hold; hub driver stays bound`, async () => {
      const run = await withGuest(
        {
          usbDevices: ['usb-hub,id=hub,bus=xhci.0,port=1,port-power=on', 'usb-kbd,id=kbd,bus=xhci.0,port=1.4'],
          devices: DONGLES.map((d, i) => ({ id: `ftdi${i + 1}`, port: d.replace(/^1-/, ''), serial: `HUBP${i + 1}` })),
          job: 'hardware-tests/vm/jobs/hub-power.ts',
          env: { VM_BACKEND: backend, VM_CYCLES: backend === 'libusb' ? '6' : '4' },
          timeoutMs: 240_000,
        },
        async (guest) => Promise.all(DONGLES.map(async (_, i) => echoPeer(await guest.serial(`ftdi${i + 1}`)))),
      );
      logTimings(`hub-power (${backend})`, run);
      if (run.status !== 0) throw jobFailed('hub-power job', run);
      const r = run.result as Result;
      figures[backend] = r;

      // The lab as the kernel enumerated it.
      expect(r.before.hubDriver, 'hub 1-1 bound to the kernel hub driver').to.equal('hub');
      expect(r.before.kbdDevnum, 'keyboard at 1-1.4').to.not.equal(null);
      for (const d of DONGLES) expect(r.before.dongleDevnums[d], d).to.not.equal(null);

      // Dry run: the hub, the three dongles to cycle (by sysfs disable), the keyboard refused.
      // (nusb refuses the hub's GET_STATUS(port) without a claimed interface: power then comes
      // from the port's disable attribute; the listing says 'on' either way.)
      const listing = r.dryRun.out.join('\n');
      expect(r.dryRun.exitCode, listing + r.dryRun.err.join('\n')).to.equal(0);
      expect(listing, listing).to.match(/hub 1-1 .*0409:55aa .*per-port power switching/);
      for (const d of DONGLES) expect(listing, listing).to.match(new RegExp(`port ${d.slice(-1)}: power on, ${d.replace('.', '\\.')} 0403:6001 .*\\(ours\\)  \\[will cycle by sysfs-disable\\]`));
      expect(listing, listing).to.match(/port 4: power on, 1-1\.4 0627:0001 .*\(NOT ours\)  \[refused without --force\]/);

      // The keyboard's port is refused without --force.
      expect(r.foreignRefused.refused, r.foreignRefused.message).to.equal(true);
      expect(r.foreignRefused.message).to.match(/1-1\.4 0627:0001 .*not one of ours \(use --force/);

      // The stress run: only our ports cycled, only by sysfs disable, invariants kept, work done.
      const s = r.stress;
      const about = JSON.stringify({ ...s, links: undefined }, null, 1);
      expect(s.violations, s.replay).to.deep.equal([]);
      expect(s.violationCount).to.equal(0);
      expect(s.ok).to.equal(true);
      expect(s.hotplugDongles).to.deep.equal(DONGLES);
      expect(s.dongles).to.not.include('1-1.4');
      expect(s.cycles, `power cycles\n${about}`).to.be.greaterThan(2);
      expect(s.cycled.every((d) => DONGLES.includes(d)), s.cycled.join(',')).to.equal(true);
      expect(Object.keys(s.powerMethods)).to.deep.equal(['sysfs-disable']);
      expect(s.registrations, 'driver sets registered and deregistered').to.be.greaterThan(0);
      expect(s.bytesReceived, 'bytes echoed back through the ports').to.be.greaterThan(0);
      expect(s.links).to.include.members(DONGLES.map((d) => `${d}:0.0>${d}:0.0`));

      // Plug-to-open through port power, same method.
      expect(r.plugToOpen.error, r.plugToOpen.error).to.equal(undefined);
      expect(Object.keys(r.plugToOpen.methods)).to.deep.equal(['sysfs-disable']);

      // The keyboard never lost power (same device number, port not disabled); the hub driver stayed bound.
      for (const snap of [r.afterStress, r.after]) {
        expect(snap.hubDriver).to.equal('hub');
        expect(snap.kbdDevnum, 'the keyboard was never re-enumerated').to.equal(r.before.kbdDevnum);
        expect(snap.kbdPortDisable).to.equal('0');
      }
      // Every port powered again at the end (the dongles are back, with new device numbers).
      for (const d of DONGLES) expect(r.after.dongleDevnums[d], `${d} back at the end`).to.not.equal(null);
      expect(r.unhandled).to.deep.equal([]);
    });
  }

  it('cycles/s and plug-to-open next to the mock lab\'s (same measurement code)', async () => {
    const mock = await mockFigures(40);
    console.log(`      [vm] power cycles/s and plug-to-open (port power on -> port open):`);
    console.log(`      [vm]   mock lab (emulated hub, logical time): ${mock.cyclesPerSecond.toFixed(1)} cycles/s wall (${mock.logicalCyclesPerSecond.toFixed(1)}/s logical), plug-to-open p50 ${fmt(mock.p50)} p99 ${fmt(mock.p99)}`);
    expect(Object.keys(figures), 'backends that produced figures').to.not.be.empty;
    for (const [b, r] of Object.entries(figures)) {
      console.log(
        `      [vm]   ${b} (QEMU usb-hub, guest kernel, TCG): ${r.stress.cyclesPerSecond.toFixed(2)} cycles/s, plug-to-open p50 ${fmt(r.plugToOpen.p50)} p99 ${fmt(r.plugToOpen.p99)} (${r.plugToOpen.samples.length} samples)`,
      );
      expect(r.plugToOpen.samples.length).to.be.greaterThan(0);
    }
    expect(mock.p99).to.be.a('number').and.greaterThan(0);
  });
});
