// Guest job: a USB/IP lab in one guest over loopback. usbip-host + usbipd export QEMU's FTDI
// (1-1, its UART echoed by the host test), vhci_hcd imports it, and our FTDI driver binds the
// import through libusb, never the exported original (src/lab importedOnly). Then:
//   cli      `usb-harness lab attach`'s body with a lab file naming the dongle by serial number
//   echo     16 KiB byte-exact through the import
//   link     lo down with the port open: the heartbeat's verdict, PortDisconnectedError to the
//            user, the import detached; lo up: re-attached, reopened, byte-exact again
//   stress   runStress on the remote dongle: every remote fault in turn (detach, exporter
//            unbind, connection dropped, exporter restart, silent link) during traffic,
//            open/close and registration churn; invariants and the figures
import { execFileSync } from 'node:child_process';
import { labCommand, stackPortFinder } from '../../../src/cli/commands/lab.ts';
import { writeFileSync } from 'node:fs';
import { ftdiDriverSet, registerFtdi } from '../../../drivers/ftdi/index.ts';
import { DriverModel } from '../../../src/core/index.ts';
import { importedOnly, Lab, LabSupervisor, parseLabFile, probeTcp, vhciBusNumbers, type SupervisorEvent } from '../../../src/lab/index.ts';
import { deregisterUsbSerialDrivers, PortDisconnectedError, type UsbSerialPort } from '../../../src/serial/index.ts';
import { runStress } from '../../../src/stress/index.ts';
import { UsbipTarget } from '../../../src/stress/usbip-target.ts';
import { createHostBackend } from '../../../src/usb/backends/select.ts';
import { UsbSubsystem } from '../../../src/usb/index.ts';
import { hostLink, writeResult } from '../guest/link.ts';
import { patternBytes } from './pattern.ts';

const SERIAL = process.env.VM_SERIAL ?? 'USBIPFT1';
const STRESS_MS = Number(process.env.VM_STRESS_MS ?? 20_000);
const LAB_FILE = '/tmp/lab.json';
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (t0: number) => Math.round(performance.now() - t0);
const result: Record<string, unknown> = {};
const link = hostLink();

async function until(what: string, ok: () => boolean | Promise<boolean>, limit = 20_000): Promise<number> {
  const t0 = performance.now();
  while (!(await ok())) {
    if (performance.now() - t0 > limit) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return ms(t0);
}

async function echo(port: UsbSerialPort, bytes: number, seed: number): Promise<{ bytes: number; received: number; identical: boolean }> {
  const data = patternBytes(bytes, seed);
  const got: number[] = [];
  const sub = port.events.subscribe((e) => e.type === 'data' && got.push(...e.data));
  await port.write(data);
  await until('the echo', () => got.length >= bytes, 30_000).catch(() => undefined);
  sub.unsubscribe();
  return { bytes, received: got.length, identical: got.length === bytes && got.every((b, i) => b === data[i]) };
}

try {
  // The exporter: usbip-host and usbipd; the importer: vhci_hcd. The guest's lo starts down.
  sh('modprobe usbip-host && modprobe vhci-hcd && ip link set lo up && usbipd -D');
  await until('usbipd', () => probeTcp('127.0.0.1', 3240, 500));
  sh('usbip bind -b 1-1');
  writeFileSync(
    LAB_FILE,
    JSON.stringify({
      hosts: [{ name: 'loop', address: '127.0.0.1', dongles: [{ serial: SERIAL, name: 'ft' }], exporter: { via: [] } }],
      heartbeat: { intervalMs: 250, timeoutMs: 400, misses: 2 },
    }),
  );
  link.emit('ready');

  // cli: the lab command's body, in this process (a tsx start of the whole CLI costs minutes
  // under TCG): attach by serial number, then our stack on the imports names the port.
  let t0 = performance.now();
  const printed: unknown[] = [];
  const code = await labCommand('attach', [], { lab: LAB_FILE }, {
    out: { json: true, line: () => undefined, data: (v) => void printed.push(v) },
    findPorts: stackPortFinder({ driverSets: () => [ftdiDriverSet], createLab: () => { throw new Error('no mock lab here'); } }, 'libusb'),
  });
  result.cli = { code, ms: ms(t0), out: printed[0] ?? null, err: [] };
  result.exported = { usbipStatus: sh('cat /sys/bus/usb/devices/1-1/usbip_status').trim(), driver: sh('basename $(readlink /sys/bus/usb/devices/1-1/driver)').trim() };
  result.vhciPort = sh('usbip port');

  // echo and link: our stack on the imports only.
  const lab = new Lab(parseLabFile(sh(`cat ${LAB_FILE}`), LAB_FILE));
  const buses = await vhciBusNumbers();
  const backend = importedOnly(await createHostBackend('libusb'), buses);
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const stop = await usb.attachBackend(backend);
  const reg = await registerFtdi(usb.bus);
  await usb.settled();
  const devices = usb.bus.listDevices().map((d) => d.name);
  const ports = reg.ports();
  result.bound = { vhciBuses: [...buses].sort((a, b) => a - b), devices, ports: ports.map((p) => ({ name: p.name, path: p.stablePath, device: p.serial.usbDevice.name })) };
  if (ports.length !== 1) throw new Error(`expected one port on the import, got ${ports.length} (devices: ${devices.join(', ')})`);
  let port = ports[0]!;
  await port.open({ baudRate: 115200 });
  result.echo = await echo(port, 16 << 10, 0x51);

  const sup = new LabSupervisor(lab);
  const events: (SupervisorEvent & { ms: number })[] = [];
  let tLink = 0;
  sup.events.subscribe((e) => events.push({ ...e, ms: ms(tLink) }));
  await sup.start();
  let disconnectAt = -1;
  port.events.subscribe((e) => e.type === 'disconnect' && disconnectAt < 0 && (disconnectAt = ms(tLink)));
  tLink = performance.now();
  sh('ip link set lo down');
  await until('the dead link', () => events.some((e) => e.type === 'lost'), 30_000);
  await until('the port to go', () => reg.ports().length === 0, 10_000);
  const writeAfter = await Promise.resolve()
    .then(() => port.write(Uint8Array.of(1, 2, 3)))
    .then(
    () => 'resolved',
    (err: unknown) => (err instanceof PortDisconnectedError ? 'PortDisconnectedError' : `${(err as Error).name}: ${(err as Error).message}`),
  );
  const goneAt = ms(tLink);
  sh('ip link set lo up');
  await until('the re-attach', () => events.some((e) => e.type === 'attached'), 30_000);
  await until('the port to come back', () => reg.ports().length === 1, 15_000);
  const backAt = ms(tLink);
  port = reg.ports()[0]!;
  await port.open({ baudRate: 115200 });
  const after = await echo(port, 4096, 0x52);
  await port.close();
  await sup.stop();
  result.link = { events: events.map((e) => ({ type: e.type, ms: e.ms, ...(e.type === 'link-dead' ? { silentMs: Math.round(e.silentMs) } : {}), ...(e.type === 'lost' ? { why: e.why } : {}) })), disconnectAt, goneAt, backAt, writeAfter, echoAfter: after };
  await deregisterUsbSerialDrivers(reg);
  stop();
  await usb.stop();
  await backend.close();

  // stress: the remote dongle under every fault in turn.
  const target = { current: null as UsbipTarget | null };
  t0 = performance.now();
  const r = await runStress({
    usbip: {
      lab,
      backend: importedOnly(await createHostBackend('libusb'), buses),
      driverSets: [ftdiDriverSet],
      link: { down: ['ip', 'link', 'set', 'lo', 'down'], up: ['ip', 'link', 'set', 'lo', 'up'] },
      links: [{ id: 'ft:0.0>ft:0.0', from: 'ft:0.0', to: 'ft:0.0', kind: 'loopback' }],
      onTarget: (t: UsbipTarget) => (target.current = t),
    },
    seed: Number(process.env.VM_SEED ?? 0x18),
    durationMs: STRESS_MS,
    rates: 'hotplug=1.5,registration=0.3,new_id=0,remove_id=0,bind=0.3,unbind=0.3,open=8,close=2,write=20,signals=2,check=0.5',
    drainLimitMs: 10_000,
    settleLimitMs: 30_000,
  });
  result.stress = {
    ms: ms(t0),
    ok: r.ok,
    events: r.events,
    cycles: r.cycles,
    violations: r.violations.slice(0, 5),
    stoppedEarly: r.stoppedEarly,
    bytesReceived: r.traffic.bytesReceived,
    frames: r.traffic.frames,
    losses: r.lossSummary,
    hotplug: r.counts.plug && { plug: r.counts.plug, unplug: r.counts.unplug },
    figures: target.current?.figures ?? null,
    replay: r.replay.command,
  };
  result.after = { imports: sh('usbip port'), exported: sh('cat /sys/bus/usb/devices/1-1/usbip_status').trim() };
  writeResult(result);
  console.log(JSON.stringify(result, null, 1));
} catch (err) {
  result.error = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
  writeResult(result);
  console.log(JSON.stringify(result, null, 1));
  process.exitCode = 1;
}
link.close();
