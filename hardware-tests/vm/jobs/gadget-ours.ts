// Part C (guest job): OUR drivers against our emulated chips presented as real devices. An
// emulated chip (VM_GADGET_PART: FT232R, or a PL2303 part) is bridged to the guest kernel through
// dummy_hcd + FunctionFS (guest/functionfs-bridge.ts); the kernel's ftdi_sio / pl2303 binds it
// first; then our stack (UsbSubsystem on the `usb` package, libusb) registers our driver, which
// detaches the kernel's from that interface, opens the port at several settings and loops data
// back byte-exact through the emulated wire; the emulated chip's side shows what our driver asked
// for. On deregistration the kernel's driver gets the interface (and its ttyUSB) back.
//
// The bridge runs in a child process (guest/bridge-child.ts): the `usb` package's
// detach/attach of the kernel driver are synchronous ioctls on the main thread, and the kernel
// runs the driver's probe inside the attach: pl2303's probe sends a dozen control requests, which
// a bridge on the same (blocked) event loop could not answer before their 100 ms timeouts.
import { isBridgeChild, serveBridgeState, startBridgeChild, type BridgeChild } from '../guest/bridge-child.ts';
import { waitFor } from '../guest/wait-for.ts';
import { execSync } from 'node:child_process';

const part = process.env.VM_GADGET_PART ?? 'FT232R';
const isFtdi = part.startsWith('FT');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ChipState {
  baudRate: number;
  dataBits: number;
  parity: string;
  stopBits: number;
  dtr?: boolean;
  rts?: boolean;
  lineCoding?: string;
}
interface StateReply {
  chip: ChipState;
  refusals: unknown[];
  rejectedBauds: string[];
  log: import('../guest/functionfs-bridge.ts').FfsBridgeLog;
  latency: { count: number; p50: number; p90: number; max: number };
}

if (isBridgeChild()) {
  // ---- the child: the emulated chip and the bridge ----
  const { bridgeMockFfs, latencySummary } = await import('../guest/functionfs-bridge.ts');
  const { loopbackPlug } = await import('../../../mocks/uart.ts');
  let state: () => Omit<StateReply, 'log' | 'latency'>;
  let device: import('../../../mocks/device.ts').MockUsbDevice;
  if (isFtdi) {
    const { mockFtdi } = await import('../../../mocks/ftdi/index.ts');
    const m = mockFtdi(part as Parameters<typeof mockFtdi>[0], { serialNumber: 'OURS0001' });
    loopbackPlug(m.uart());
    device = m.device;
    state = () => {
      const s = m.channel(0).state;
      return { chip: { baudRate: s.baudRate, dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits, dtr: s.dtr, rts: s.rts }, refusals: [], rejectedBauds: [] };
    };
  } else {
    const { createPl2303 } = await import('../../../mocks/pl2303/index.ts');
    const emu = createPl2303(part as Parameters<typeof createPl2303>[0]);
    loopbackPlug(emu.chip.uart);
    device = emu.device;
    state = () => ({
      chip: { ...emu.chip.lineSettings, ...emu.chip.controlLines, lineCoding: Buffer.from(emu.chip.lineCoding).toString('hex') },
      refusals: [...emu.chip.refusals],
      rejectedBauds: emu.chip.rejectedBauds.map((e) => e.message),
    });
  }
  const bridge = await bridgeMockFfs(device);
  serveBridgeState((): StateReply => ({ ...state(), log: bridge.log, latency: latencySummary(bridge.log.setups) }));
} else {
  // ---- the parent: our stack ----
  const { DriverModel } = await import('../../../src/core/index.ts');
  const { createHostBackend } = await import('../../../src/usb/backends/select.ts');
  const { UsbSubsystem } = await import('../../../src/usb/index.ts');
  const { registerUsbSerialDrivers, deregisterUsbSerialDrivers } = await import('../../../src/serial/index.ts');
  const { registerFtdi, ftdiPort } = await import('../../../drivers/ftdi/index.ts');
  const { createPl2303Driver, PL2303_ID_TABLE, pl2303AdapterOf } = await import('../../../drivers/pl2303/index.ts');
  const { writeResult } = await import('../guest/link.ts');
  const { findGadgetDevice } = await import('../guest/gadget-device.ts');
  const { formatSetup } = await import('../guest/emulation-side.ts');
  const { dummyBusNumber, UsbmonRecorder } = await import('../guest/usbmon.ts');
  const { patternBytes, firstDifference } = await import('./pattern.ts');

  const result: Record<string, unknown> = { part };
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const vendor = isFtdi ? '0403' : '067b';
  const kernelDriver = isFtdi ? 'ftdi_sio' : 'pl2303';

  const findDevice = () => findGadgetDevice(vendor);

  let child: BridgeChild<StateReply> | undefined;
  let mon: InstanceType<typeof UsbmonRecorder> | undefined;
  try {
    execSync(`modprobe dummy_hcd is_high_speed=0 is_super_speed=0 && modprobe ${kernelDriver}`);
    const bus = dummyBusNumber();
    mon = new UsbmonRecorder(bus);
    mon.start();
    child = await startBridgeChild<StateReply>(16);
    const bridge = child;
    const bridgeState = () => bridge.state();

    // 1. The kernel's driver has it first.
    const kernelFirst = await waitFor(() => {
      const f = findDevice();
      return f?.driver === kernelDriver && f.tty ? f : undefined;
    }, `the kernel's ${kernelDriver} on the gadget`);
    result.kernelFirst = { ...kernelFirst, ms: ms() };
    let seen = (await bridgeState()).log.setups.length;
    const since = async () => {
      const s = await bridgeState();
      const part = s.log.setups.slice(seen).map(formatSetup);
      seen = s.log.setups.length;
      return { s, requests: part };
    };

    // 2. Our stack; our driver takes the interface from the kernel's.
    const backend = await createHostBackend('libusb');
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const stopBackend = await usb.attachBackend(backend);
    await usb.settled();
    const reg = isFtdi ? await registerFtdi(usb.bus) : await registerUsbSerialDrivers([createPl2303Driver()], 'pl2303', PL2303_ID_TABLE, { usbBus: usb.bus });
    await usb.settled();
    const ports = reg.ports().filter((p) => p.serial.intf.usbDevice.location?.busNumber === bus);
    if (ports.length !== 1) throw new Error(`expected one port of ours on the dummy bus ${bus}, got ${ports.length} (all: ${reg.ports().map((p) => p.name).join(', ')})`);
    const port = ports[0]!;
    const probe = await since();
    const adapter = isFtdi ? undefined : pl2303AdapterOf(port.serial);
    result.bound = {
      port: port.name,
      ms: ms(),
      detected: isFtdi ? ftdiPort(port).chip : adapter?.type,
      sysfs: findDevice(),
      claimed: port.serial.intf.claimed,
      kernelDriverDetached: port.serial.intf.kernelDriverDetached,
      requests: probe.requests,
    };

    const chunks: Uint8Array[] = [];
    let received = 0;
    port.events.subscribe((e) => {
      if (e.type === 'data') {
        chunks.push(e.data);
        received += e.data.length;
      }
    });
    type Parity = 'none' | 'odd' | 'even';
    const settings: [number, 5 | 6 | 7 | 8, Parity, 1 | 2][] = isFtdi
      ? [
          [115200, 8, 'none', 1],
          [921600, 7, 'even', 2],
          [3_000_000, 8, 'none', 1],
          [9600, 8, 'odd', 1],
        ]
      : [
          [115200, 8, 'none', 1],
          [250000, 8, 'none', 1],
          [9600, 7, 'even', 2],
          [500000, 8, 'odd', 1],
        ];
    const sessions: Record<string, unknown>[] = [];
    for (const [i, [baudRate, dataBits, parity, stopBits]] of settings.entries()) {
      const tw = performance.now();
      const applied = i === 0 ? await port.open({ baudRate, dataBits, parity, stopBits }) : await port.setSettings({ baudRate, dataBits, parity, stopBits });
      const data = patternBytes(baudRate < 100_000 ? 512 : 8192, baudRate);
      if (dataBits === 7) for (let k = 0; k < data.length; k++) data[k]! &= 0x7f;
      chunks.length = 0;
      received = 0;
      const written = await port.write(data);
      for (let k = 0; k < 400 && received < data.length; k++) await sleep(25);
      const got = Buffer.concat(chunks);
      const { s, requests } = await since();
      sessions.push({
        baudRate,
        dataBits,
        parity,
        stopBits,
        applied: { baudRate: applied.actualBaudRate, dataBits: applied.dataBits, parity: applied.parity, stopBits: applied.stopBits },
        chipSide: s.chip,
        requests,
        written,
        sent: data.length,
        received: got.length,
        identical: got.equals(Buffer.from(data)),
        firstDiff: firstDifference(data, got),
        ms: Math.round(performance.now() - tw),
      });
    }
    result.sessions = sessions;
    await port.close();
    result.closeRequests = (await since()).requests;

    // 3. Deregister: the kernel's driver gets the interface and its tty back.
    await deregisterUsbSerialDrivers(reg);
    await usb.settled();
    const back = await waitFor(() => {
      const f = findDevice();
      return f?.driver === kernelDriver && f.tty ? f : undefined;
    }, `the kernel's ${kernelDriver} back on the gadget`).catch((e: Error) => ({ error: e.message, now: findDevice() }));
    const final = await since();
    result.released = { ...back, ms: ms(), claimed: port.serial.intf.claimed, kernelDriverDetached: port.serial.intf.kernelDriverDetached, requests: final.requests };
    stopBackend();
    await usb.stop();
    await backend.close();
    await sleep(200);
    result.bridge = final.s.log;
    result.latency = { all: final.s.latency };
    result.chip = { refusals: final.s.refusals, rejectedBauds: final.s.rejectedBauds };
  } catch (err) {
    result.error = `${(err as Error).name}: ${(err as Error).message}\n${(err as Error).stack}`;
  }
  if (mon) {
    const m = await mon.stop().catch(() => undefined);
    result.usbmon = m && { lines: m.lines, controls: m.controls };
  }
  result.ms = ms();
  result.dmesg = execSync(`dmesg | grep -i -E "${kernelDriver}|ttyUSB|usbfs|3-1" | tail -30`).toString();
  writeResult(result);
  console.log(JSON.stringify({ ...result, usbmon: undefined, bridge: undefined }, null, 1));
  child?.kill();
  process.kill(process.pid, 'SIGKILL');
}
