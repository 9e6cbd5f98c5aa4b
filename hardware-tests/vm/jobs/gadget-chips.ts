// Part C (guest job): our emulated CP210x (VM_CHIPS_FAMILY=cp210x: a CP2102 and a two-port
// CP2105) or CH340 (ch34x) presented to the guest kernel as real hardware, each on its own
// dummy_hcd controller through a FunctionFS gadget (guest/functionfs-bridge.ts).
// 1. The kernel's own cp210x / ch341 binds every interface; each /dev/ttyUSB* is opened with
//    node-serialport at several settings (odd rates, 7 data bits, parity, 2 stop bits, RTS/CTS),
//    loops a pattern back through the emulated wire, and drives DTR/RTS through the loopback
//    plug (RTS→CTS, DTR→DSR+DCD). Recorded: each session's requests as the emulation answered
//    them and what the emulated chip then runs.
// 2. Our stack (`usb` package, libusb) registers our driver: it detaches the kernel's from every
//    interface, runs each port at a few settings (the chip must run what our driver reports) and
//    loops data back; deregistering gives the interfaces (and their ttyUSB) back to the kernel.
// usbmon records each bus, for the host test to check the bridge against.
//
// The emulations and bridges run in a child process (guest/bridge-child.ts): the `usb`
// package's detach/attach are synchronous ioctls on the main thread, and the kernel probes the
// driver it re-attaches inside that call; a bridge on the blocked event loop could not answer.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { FfsBridgeLog } from '../guest/functionfs-bridge.ts';
import { isBridgeChild, serveBridgeState, startBridgeChild, type BridgeChild } from '../guest/bridge-child.ts';
import { waitFor } from '../guest/wait-for.ts';

type Family = 'cp210x' | 'ch34x';
const family = (process.env.VM_CHIPS_FAMILY ?? 'cp210x') as Family;
if (family !== 'cp210x' && family !== 'ch34x') throw new Error(`VM_CHIPS_FAMILY must be cp210x or ch34x, got ${String(family)}`);
const PARTS = family === 'cp210x' ? (['CP2102', 'CP2105'] as const) : (['CH340'] as const);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the emulated chip runs on one port. */
interface PortState {
  baudRate: number;
  dataBits: number;
  parity: string;
  stopBits: number;
  dtr: boolean;
  rts: boolean;
  /** CP210x: the SET_BAUDRATE value it took, its LINE_CTL, the flow structure decoded. */
  baudValue?: number;
  lineCtl?: number;
  flow?: { ctsHandshake: boolean; rtsMode: number; dtrMode: number; autoTransmit: boolean; autoReceive: boolean };
  enabled?: boolean;
  /** CH34x: registers 0x12 (prescaler), 0x13 (divisor), 0x18 (LCR). */
  registers?: Record<string, number>;
}
interface DeviceState {
  part: string;
  ports: PortState[];
  refusals: { bRequest: number; wValue: number; wIndex: number; reason: string }[];
  rejectedBauds: string[];
  log: FfsBridgeLog;
  latency: { count: number; p50: number; p90: number; max: number };
}

if (isBridgeChild()) {
  // ---- the child: the emulated chips and their bridges ----
  const { bridgeMockFfs, latencySummary } = await import('../guest/functionfs-bridge.ts');
  const { loopbackPlug } = await import('../../../mocks/uart.ts');
  const states: (() => DeviceState)[] = [];
  for (const [i, part] of PARTS.entries()) {
    let device: import('../../../mocks/device.ts').MockUsbDevice;
    let state: () => Omit<DeviceState, 'log' | 'latency'>;
    if (family === 'cp210x') {
      const { createCp210x } = await import('../../../mocks/cp210x/index.ts');
      const emu = createCp210x(part as 'CP2102' | 'CP2105');
      for (const p of emu.chip.ports) loopbackPlug(p.uart);
      device = emu.device;
      state = () => ({
        part,
        ports: emu.chip.ports.map((p) => {
          const f = p.flow;
          return {
            ...p.uart.settings,
            dtr: p.uart.outputs.dtr,
            rts: p.uart.outputs.rts,
            baudValue: p.baudValue,
            lineCtl: p.lineCtl,
            enabled: p.enabled,
            flow: { ctsHandshake: f.ctsHandshake, rtsMode: f.rtsMode, dtrMode: f.dtrMode, autoTransmit: f.autoTransmit, autoReceive: f.autoReceive },
          };
        }),
        refusals: [...emu.chip.refusals],
        rejectedBauds: emu.chip.rejectedBauds.map((e) => e.message),
      });
    } else {
      const { createCh34x } = await import('../../../mocks/ch34x/index.ts');
      const emu = createCh34x(part as 'CH340');
      loopbackPlug(emu.chip.uart);
      device = emu.device;
      const reg = (r: number) => emu.chip.registers.get(r) ?? 0;
      state = () => ({
        part,
        ports: [{ ...emu.chip.lineSettings, dtr: emu.chip.controlLines.dtr, rts: emu.chip.controlLines.rts, registers: { '12': reg(0x12), '13': reg(0x13), '18': reg(0x18), '25': reg(0x25), '05': reg(0x05) } }],
        refusals: [...emu.chip.refusals],
        rejectedBauds: emu.chip.rejectedBauds.map((e) => e.message),
      });
    }
    const bridge = await bridgeMockFfs(device, { name: `chip${i}`, udc: `dummy_udc.${i}` });
    states.push(() => ({ ...state(), log: bridge.log, latency: latencySummary(bridge.log.setups) }));
  }
  serveBridgeState(() => states.map((s) => s()));
} else {
  // ---- the parent: the kernel's driver, then ours ----
  const { SerialPortStream } = await import('@serialport/stream');
  const { autoDetect } = await import('@serialport/bindings-cpp');
  const { DriverModel } = await import('../../../src/core/index.ts');
  const { createHostBackend } = await import('../../../src/usb/backends/select.ts');
  const { UsbSubsystem } = await import('../../../src/usb/index.ts');
  const { deregisterUsbSerialDrivers } = await import('../../../src/serial/index.ts');
  const { registerCp210x, cp210xAdapterOf } = await import('../../../drivers/cp210x/index.ts');
  const { registerCh341, ch341AdapterOf } = await import('../../../drivers/ch341/index.ts');
  const { writeResult } = await import('../guest/link.ts');
  const { dummyBusOf, findGadgetOnBus } = await import('../guest/gadget-device.ts');
  const { formatSetup } = await import('../guest/emulation-side.ts');
  const { UsbmonRecorder } = await import('../guest/usbmon.ts');
  const { patternBytes, firstDifference } = await import('./pattern.ts');

  type Parity = 'none' | 'odd' | 'even';
  type Setting = { baudRate: number; dataBits: 7 | 8; parity: Parity; stopBits: 1 | 2; rtscts?: boolean };
  const S = (baudRate: number, dataBits: 7 | 8, parity: Parity, stopBits: 1 | 2, rtscts = false): Setting => ({ baudRate, dataBits, parity, stopBits, rtscts });

  /** Settings the kernel's driver runs, per part and interface: plain and odd rates, each framing kind, RTS/CTS. */
  const KERNEL_SETTINGS: Record<string, Setting[][]> = {
    // CP2102: AN205 table below 1 M (31250 → 38400, 100000 → 115200), 1 M sent as is.
    CP2102: [[S(9600, 8, 'none', 1), S(115200, 8, 'none', 1), S(31250, 7, 'even', 1), S(100000, 8, 'odd', 2), S(1_000_000, 8, 'none', 1, true)]],
    // CP2105: interface 0 (ECI) the 48 MHz divider's actual rate; interface 1 (SCI) AN205, 2400 up (1200 is clamped).
    CP2105: [
      [S(115200, 8, 'none', 1), S(1_234_567, 8, 'even', 1), S(2_000_000, 8, 'none', 1, true)],
      [S(1200, 8, 'none', 1), S(230400, 7, 'odd', 2), S(500000, 8, 'none', 1, true)],
    ],
    // CH340 (version 0x31): divisor/prescaler pairs, 7 data bits, parity, 2 stop bits.
    CH340: [[S(9600, 8, 'none', 1), S(115200, 8, 'none', 1), S(31250, 7, 'even', 1), S(250000, 8, 'odd', 2), S(921600, 8, 'none', 1), S(1_234_567, 8, 'none', 1)]],
  };
  /** Settings our driver runs on each port. */
  const OUR_SETTINGS: Record<string, Setting[][]> = {
    // Our driver refuses a rate the part would run more than 3 % off (CP2102's table turns 31250
    // into 38400), so the odd rates here are ones the part runs closely.
    CP2102: [[S(115200, 8, 'none', 1), S(56000, 7, 'even', 2, true)]],
    CP2105: [[S(1_234_567, 8, 'odd', 1), S(115200, 8, 'none', 1, true)], [S(230400, 7, 'even', 1), S(4800, 8, 'none', 2)]],
    CH340: [[S(115200, 8, 'none', 1), S(250000, 7, 'even', 2), S(1_234_567, 8, 'odd', 1)]],
  };
  const kernelDriver = family === 'cp210x' ? 'cp210x' : 'ch341';
  /** What our driver detected on a port's interface. */
  const describeAdapter = (port: Parameters<typeof cp210xAdapterOf>[0]) => {
    const c = cp210xAdapterOf(port);
    if (c) return { family: c.family, baudPart: c.baudPart, partnum: c.partnum, noEventMode: c.noEventMode };
    const h = ch341AdapterOf(port);
    return h ? { version: h.version, quirks: h.quirks } : undefined;
  };

  const result: Record<string, unknown> = { family, parts: PARTS };
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);

  let child: BridgeChild<DeviceState[]> | undefined;
  const mons: InstanceType<typeof UsbmonRecorder>[] = [];
  const devicesOut: Record<string, unknown>[] = PARTS.map((part) => ({ part }));
  try {
    // One dummy_hcd controller per part: each device on its own bus, recorded on its own.
    execSync(`modprobe dummy_hcd is_high_speed=0 is_super_speed=0 num=${PARTS.length} && modprobe ${kernelDriver}`);
    const buses = PARTS.map((_, i) => dummyBusOf(i));
    for (const b of buses) {
      const m = new UsbmonRecorder(b);
      m.start();
      mons.push(m);
    }
    child = await startBridgeChild<DeviceState[]>(24);
    const bridge = child;
    const bridgeState = () => bridge.state();
    const seen = PARTS.map(() => 0);
    /** The requests device d's emulation answered since the last call for it. */
    const since = async (d: number) => {
      const all = await bridgeState();
      const s = all[d]!;
      const requests = s.log.setups.slice(seen[d]).map(formatSetup);
      seen[d] = s.log.setups.length;
      return { s, requests };
    };

    // ---- 1. the kernel's driver on every interface ----
    const allBound = (bus: number) => {
      const g = findGadgetOnBus(bus);
      // Interfaces are added one by one (each probed as it comes): wait for bNumInterfaces of them.
      return g && g.interfaces.length > 0 && g.interfaces.length === g.numInterfaces && g.interfaces.every((i) => i.driver === kernelDriver && i.tty && existsSync(`/dev/${i.tty}`)) ? g : undefined;
    };
    const binding = autoDetect();
    for (const [d, part] of PARTS.entries()) {
      const g = await waitFor(() => allBound(buses[d]!), `the kernel's ${kernelDriver} on every interface of the ${part}`);
      const probe = await since(d);
      const out = devicesOut[d]!;
      out.bus = buses[d];
      out.kernel = { interfaces: g.interfaces, ms: ms(), probe: probe.requests };
      const ports: Record<string, unknown>[] = [];
      for (const intf of g.interfaces) {
        const sessions: Record<string, unknown>[] = [];
        for (const st of KERNEL_SETTINGS[part]![intf.number]!) {
          const port = new SerialPortStream({ binding, path: `/dev/${intf.tty}`, baudRate: st.baudRate, dataBits: st.dataBits, parity: st.parity, stopBits: st.stopBits, rtscts: st.rtscts, autoOpen: false });
          const tw = performance.now();
          await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
          const data = patternBytes(2048, st.baudRate + intf.number);
          if (st.dataBits === 7) for (let k = 0; k < data.length; k++) data[k]! &= 0x7f;
          const chunks: Buffer[] = [];
          port.on('data', (c: Buffer) => chunks.push(c));
          await new Promise<void>((res, rej) => port.write(Buffer.from(data), (e) => (e ? rej(e) : res())));
          for (let k = 0; k < 300 && Buffer.concat(chunks).length < data.length; k++) await sleep(20);
          const got = Buffer.concat(chunks);
          // Modem lines through the loopback plug (RTS→CTS, DTR→DSR+DCD), each way, in each port's first session.
          const modem: Record<string, unknown>[] = [];
          const requests: string[] = [];
          if (sessions.length === 0 && !st.rtscts) {
            for (const [dtr, rts] of [[false, true], [true, false]] as const) {
              await new Promise<void>((res, rej) => port.set({ dtr, rts }, (e) => (e ? rej(e) : res())));
              await sleep(50); // ch341 reports input changes through its interrupt endpoint
              const lines = await new Promise<{ cts: boolean; dsr: boolean; dcd: boolean }>((res, rej) => port.get((e, v) => (e ? rej(e) : res(v!))));
              const now = await since(d);
              requests.push(...now.requests);
              const chip = now.s.ports[intf.number]!;
              modem.push({ set: { dtr, rts }, got: { cts: lines.cts, dsr: lines.dsr, dcd: lines.dcd }, chip: { dtr: chip.dtr, rts: chip.rts } });
            }
          }
          // What the chip runs, read after the exchange: serialport applies the settings after open().
          const last = await since(d);
          requests.push(...last.requests);
          sessions.push({ ...st, chipSide: last.s.ports[intf.number], requests, modem, sent: data.length, received: got.length, firstDiff: firstDifference(data, got), ms: Math.round(performance.now() - tw) });
          await new Promise<void>((res) => port.close(() => res()));
        }
        ports.push({ interface: intf.number, tty: intf.tty, sessions, closeRequests: (await since(d)).requests });
      }
      (out.kernel as Record<string, unknown>).ports = ports;
    }

    // ---- 2. our driver takes every interface from the kernel's, and gives it back ----
    const backend = await createHostBackend('libusb');
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const stopBackend = await usb.attachBackend(backend);
    await usb.settled();
    const reg = family === 'cp210x' ? await registerCp210x(usb.bus) : await registerCh341(usb.bus);
    await usb.settled();
    for (const [d, part] of PARTS.entries()) {
      const out = devicesOut[d]!;
      const mine = reg.ports().filter((p) => p.serial.intf.usbDevice.location?.busNumber === buses[d]);
      const probe = await since(d);
      const ours: Record<string, unknown> = { probe: probe.requests, sysfs: findGadgetOnBus(buses[d]!), ports: [] as unknown[] };
      out.ours = ours;
      for (const port of mine.sort((a, b) => a.serial.intf.interfaceNumber - b.serial.intf.interfaceNumber)) {
        const n = port.serial.intf.interfaceNumber;
        const chunks: Uint8Array[] = [];
        let received = 0;
        const sub = port.events.subscribe((e) => {
          if (e.type === 'data') {
            chunks.push(e.data);
            received += e.data.length;
          }
        });
        const sessions: Record<string, unknown>[] = [];
        for (const [i, st] of OUR_SETTINGS[part]![n]!.entries()) {
          const tw = performance.now();
          const want = { baudRate: st.baudRate, dataBits: st.dataBits, parity: st.parity, stopBits: st.stopBits, flowControl: st.rtscts ? ('rts-cts' as const) : ('none' as const) };
          const applied = i === 0 ? await port.open(want) : await port.setSettings(want);
          const data = patternBytes(2048, st.baudRate + 7 * n);
          if (st.dataBits === 7) for (let k = 0; k < data.length; k++) data[k]! &= 0x7f;
          chunks.length = 0;
          received = 0;
          await port.write(data);
          for (let k = 0; k < 300 && received < data.length; k++) await sleep(20);
          const got = Buffer.concat(chunks);
          const { s, requests } = await since(d);
          sessions.push({ ...st, applied: { baudRate: applied.actualBaudRate, dataBits: applied.dataBits, parity: applied.parity, stopBits: applied.stopBits, flowControl: applied.flowControl }, chipSide: s.ports[n], requests, sent: data.length, received: got.length, firstDiff: firstDifference(data, got), ms: Math.round(performance.now() - tw) });
        }
        sub.unsubscribe?.();
        await port.close();
        (ours.ports as unknown[]).push({ interface: n, name: port.name, claimed: port.serial.intf.claimed, kernelDriverDetached: port.serial.intf.kernelDriverDetached, detected: describeAdapter(port), sessions, closeRequests: (await since(d)).requests });
      }
    }
    await deregisterUsbSerialDrivers(reg);
    await usb.settled();
    for (const [d, part] of PARTS.entries()) {
      const back = await waitFor(() => allBound(buses[d]!), `the kernel's ${kernelDriver} back on every interface of the ${part}`).catch((e: Error) => ({ error: e.message, now: findGadgetOnBus(buses[d]!) }));
      (devicesOut[d]!.ours as Record<string, unknown>).released = { ...back, ms: ms(), requests: (await since(d)).requests };
    }
    stopBackend();
    await usb.stop();
    await backend.close();
    await sleep(200);
    const final = await bridgeState();
    final.forEach((s, d) => Object.assign(devicesOut[d]!, { bridge: s.log, latency: s.latency, refusals: s.refusals, rejectedBauds: s.rejectedBauds }));
  } catch (err) {
    result.error = `${(err as Error).name}: ${(err as Error).message}\n${(err as Error).stack}`;
  }
  for (const [d, m] of mons.entries()) {
    const u = await m.stop().catch(() => undefined);
    devicesOut[d]!.usbmon = u && { lines: u.lines, controls: u.controls };
  }
  result.devices = devicesOut;
  result.ms = ms();
  result.dmesg = execSync(`dmesg | grep -i -E "${kernelDriver}|ttyUSB|usbfs|dummy|gadget" | tail -60`).toString();
  writeResult(result);
  console.log(JSON.stringify({ ...result, devices: devicesOut.map((d) => ({ ...d, usbmon: undefined, bridge: undefined })) }, null, 1));
  child?.kill();
  process.kill(process.pid, 'SIGKILL');
}
