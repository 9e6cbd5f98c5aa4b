// Part C for CDC-ACM (guest job), two halves in one guest:
// A. A device nobody here wrote: the guest kernel's own ACM gadget function (configfs `acm`,
//    usb_f_acm) on dummy_udc.0. The kernel's cdc_acm binds it first (/dev/ttyACM*); our cdc-acm
//    driver (the `usb` package, libusb) takes both interfaces from it, and the gadget's
//    /dev/ttyGS0 is the far end: data both ways, line coding and DTR/RTS as far as f_acm takes
//    them (it stores SET_LINE_CODING / SET_CONTROL_LINE_STATE and tells ttyGS0 nothing; it sends
//    SERIAL_STATE with DSR|DCD while ttyGS0 is open). Deregistering gives cdc_acm its port back.
// B. The kernel's cdc_acm on our emulation (mocks/cdc-acm) through the FunctionFS bridge, which
//    cannot carry CDC functional descriptors (type 0x24): (1) the 'no-union' board, whose ID
//    (22b8:7000) cdc_acm lists with NO_UNION_NORMAL, binds by that entry; (2) the 'uno' board
//    with its functional descriptors left out binds once new_id is given the 5-field form
//    `2341 0043 2 22b8 7000` (usb_store_new_id copies the driver_info, NO_UNION_NORMAL, of the
//    referenced entry). Each /dev/ttyACM* loops back through the emulated wire at two settings;
//    the emulation records the line coding and DTR/RTS cdc_acm sent (raised at open, dropped at
//    close) and reports the DSR/DCD the loopback plug gives back.
// The bridges run in a child process (guest/bridge-child.ts).
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import type { FfsBridgeLog } from '../guest/functionfs-bridge.ts';
import { isBridgeChild, serveBridgeState, startBridgeChild, type BridgeChild } from '../guest/bridge-child.ts';
import { waitFor } from '../guest/wait-for.ts';

const BOARDS = ['no-union', 'uno'] as const;
const NEW_ID = '2341 0043 2 22b8 7000';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface BoardState {
  board: string;
  lineCoding: string;
  line: { baudRate: number; dataBits: number; parity: string; stopBits: number };
  dtr: boolean;
  rts: boolean;
  notifications: number;
  refusals: { bRequest: number; wValue: number; wIndex: number; reason: string }[];
  log: FfsBridgeLog;
  latency: { count: number; p50: number; p90: number; max: number };
}

if (isBridgeChild()) {
  // ---- the child: the emulated boards and their bridges, on dummy_udc.1 and .2 ----
  const { bridgeMockFfs, latencySummary } = await import('../guest/functionfs-bridge.ts');
  const { loopbackPlug } = await import('../../../mocks/uart.ts');
  const { createCdcAcm } = await import('../../../mocks/cdc-acm/index.ts');
  const states: (() => BoardState)[] = [];
  for (const [i, board] of BOARDS.entries()) {
    const emu = createCdcAcm(board);
    loopbackPlug(emu.chip.uart);
    const bridge = await bridgeMockFfs(emu.device, { name: `acm${i}`, udc: `dummy_udc.${i + 1}`, omitClassDescriptors: true });
    states.push(() => ({
      board,
      lineCoding: Buffer.from(emu.chip.lineCoding).toString('hex'),
      line: { ...emu.chip.lineSettings },
      dtr: emu.chip.controlLines.dtr,
      rts: emu.chip.controlLines.rts,
      notifications: emu.chip.stats.notifications,
      refusals: [...emu.chip.refusals],
      log: bridge.log,
      latency: latencySummary(bridge.log.setups),
    }));
  }
  serveBridgeState(() => states.map((s) => s()));
} else {
  const { SerialPortStream } = await import('@serialport/stream');
  const { autoDetect } = await import('@serialport/bindings-cpp');
  const { DriverModel } = await import('../../../src/core/index.ts');
  const { createHostBackend } = await import('../../../src/usb/backends/select.ts');
  const { UsbSubsystem } = await import('../../../src/usb/index.ts');
  const { deregisterUsbSerialDrivers } = await import('../../../src/serial/index.ts');
  const { registerCdcAcm, cdcAcmAdapterOf } = await import('../../../drivers/cdc-acm/index.ts');
  const { writeResult } = await import('../guest/link.ts');
  const { dummyBusOf, findGadgetOnBus } = await import('../guest/gadget-device.ts');
  const { formatSetup } = await import('../guest/emulation-side.ts');
  const { UsbmonRecorder } = await import('../guest/usbmon.ts');
  const { patternBytes, firstDifference } = await import('./pattern.ts');

  const result: Record<string, unknown> = {};
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const boundAcm = (bus: number) => {
    // The kernel adds a configuration's interfaces one by one: cdc_acm binds the control interface
    // and claims the data one before the data interface is added, whose driver link appears only
    // once device_add binds it. Wait for every interface and every link.
    const g = findGadgetOnBus(bus);
    if (!g || g.numInterfaces === 0 || g.interfaces.length < g.numInterfaces || g.interfaces.some((i) => !i.driver)) return undefined;
    const ctl = g.interfaces.find((i) => i.number === 0);
    return ctl?.driver === 'cdc_acm' && ctl.tty && existsSync(`/dev/${ctl.tty}`) ? g : undefined;
  };
  const binding = autoDetect();
  type Sp = InstanceType<typeof SerialPortStream>;
  const openTty = async (path: string, o: { baudRate: number; dataBits?: 7 | 8; parity?: 'none' | 'odd' | 'even'; stopBits?: 1 | 2 }): Promise<Sp> => {
    const p = new SerialPortStream({ binding, path, autoOpen: false, ...o });
    await new Promise<void>((res, rej) => p.open((e) => (e ? rej(e) : res())));
    return p;
  };
  const closeTty = (p: Sp) => new Promise<void>((res) => p.close(() => res()));
  const modemOf = (p: Sp) => new Promise<{ cts: boolean; dsr: boolean; dcd: boolean }>((res, rej) => p.get((e, v) => (e ? rej(e) : res(v!))));

  const mons: InstanceType<typeof UsbmonRecorder>[] = [];
  let child: BridgeChild<BoardState[]> | undefined;
  try {
    execSync(`modprobe dummy_hcd is_high_speed=0 is_super_speed=0 num=${1 + BOARDS.length} && modprobe libcomposite && modprobe cdc_acm`);
    if (!existsSync('/sys/kernel/config/usb_gadget')) execSync('mount -t configfs none /sys/kernel/config');
    const buses = [0, 1, 2].map(dummyBusOf);
    for (const b of buses) {
      const m = new UsbmonRecorder(b);
      m.start();
      mons.push(m);
    }

    // ---- A. the kernel's f_acm, our driver on the host side, ttyGS0 as the far end ----
    const g = '/sys/kernel/config/usb_gadget/facm';
    mkdirSync(g);
    const attr = (f: string, v: string) => writeFileSync(`${g}/${f}`, v);
    attr('idVendor', '0x1d6b'); // Linux Foundation, as the kernel's own legacy g_serial uses
    attr('idProduct', '0x0104');
    mkdirSync(`${g}/strings/0x409`);
    attr('strings/0x409/manufacturer', 'Linux');
    attr('strings/0x409/product', 'f_acm');
    attr('strings/0x409/serialnumber', 'FACM0001');
    mkdirSync(`${g}/configs/c.1`);
    mkdirSync(`${g}/functions/acm.gs0`);
    symlinkSync(`${g}/functions/acm.gs0`, `${g}/configs/c.1/acm.gs0`);
    const portNum = readFileSync(`${g}/functions/acm.gs0/port_num`, 'utf8').trim();
    writeFileSync(`${g}/UDC`, 'dummy_udc.0');
    const kernelFirst = await waitFor(() => boundAcm(buses[0]!), "the kernel's cdc_acm on the f_acm gadget");
    const gs = `/dev/ttyGS${portNum}`;
    await waitFor(() => existsSync(gs) || undefined, gs);
    const a: Record<string, unknown> = { bus: buses[0], kernelFirst, gadgetTty: gs };
    result.facm = a;

    const backend = await createHostBackend('libusb');
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const stopBackend = await usb.attachBackend(backend);
    await usb.settled();
    const reg = await registerCdcAcm(usb.bus);
    await usb.settled();
    const ports = reg.ports().filter((p) => p.serial.intf.usbDevice.location?.busNumber === buses[0]);
    if (ports.length !== 1) throw new Error(`expected one port of ours on bus ${buses[0]}, got ${ports.length}`);
    const port = ports[0]!;
    const adapter = cdcAcmAdapterOf(port);
    a.bound = { sysfs: findGadgetOnBus(buses[0]!), claimed: port.serial.intf.claimed, kernelDriverDetached: port.serial.intf.kernelDriverDetached, capabilities: adapter?.capabilities, dataInterface: adapter?.dataInterface.interfaceNumber, ms: ms() };

    const fromHost: Uint8Array[] = [];
    port.events.subscribe((e) => e.type === 'data' && fromHost.push(e.data));
    const signals: Record<string, unknown>[] = [];
    // Before the far end opens: f_acm reports no DSR/DCD.
    const applied1 = await port.open({ baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 });
    signals.push({ when: 'ttyGS closed', ...(await port.getSignals()) });
    const far = await openTty(gs, { baudRate: 9600 });
    const farGot: Buffer[] = [];
    far.on('data', (c: Buffer) => farGot.push(c));
    await sleep(300); // SERIAL_STATE (DSR|DCD) on the notification endpoint
    signals.push({ when: 'ttyGS open', ...(await port.getSignals()) });
    const exchanges: Record<string, unknown>[] = [];
    for (const [i, st] of [
      { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
      { baudRate: 57600, dataBits: 7, parity: 'even', stopBits: 2 },
    ].entries() as IterableIterator<[number, { baudRate: number; dataBits: 7 | 8; parity: 'none' | 'even'; stopBits: 1 | 2 }]>) {
      const applied = i === 0 ? applied1 : await port.setSettings(st);
      const tw = performance.now();
      const toFar = patternBytes(16384, 11 + i);
      farGot.length = 0;
      await port.write(toFar);
      for (let k = 0; k < 300 && Buffer.concat(farGot).length < toFar.length; k++) await sleep(20);
      const gotFar = Buffer.concat(farGot);
      const toHost = patternBytes(16384, 23 + i);
      fromHost.length = 0;
      await new Promise<void>((res, rej) => far.write(Buffer.from(toHost), (e) => (e ? rej(e) : res())));
      for (let k = 0; k < 300 && Buffer.concat(fromHost).length < toHost.length; k++) await sleep(20);
      const gotHost = Buffer.concat(fromHost);
      exchanges.push({ ...st, applied: { baudRate: applied.actualBaudRate, dataBits: applied.dataBits, parity: applied.parity, stopBits: applied.stopBits }, hostToGadget: { sent: toFar.length, received: gotFar.length, firstDiff: firstDifference(toFar, gotFar) }, gadgetToHost: { sent: toHost.length, received: gotHost.length, firstDiff: firstDifference(toHost, gotHost) }, ms: Math.round(performance.now() - tw) });
    }
    a.exchanges = exchanges;
    await port.setSignals({ dtr: false, rts: true });
    await closeTty(far);
    await sleep(300); // SERIAL_STATE with DSR|DCD cleared when ttyGS0 closes
    signals.push({ when: 'ttyGS closed again', ...(await port.getSignals()) });
    a.signals = signals;
    await port.close();
    await deregisterUsbSerialDrivers(reg);
    await usb.settled();
    a.released = await waitFor(() => boundAcm(buses[0]!), "cdc_acm back on the f_acm gadget").catch((e: Error) => ({ error: e.message, now: findGadgetOnBus(buses[0]!) }));
    stopBackend();
    await usb.stop();
    await backend.close();
    writeFileSync(`${g}/UDC`, '\n');

    // ---- B. cdc_acm on our emulation through the bridge ----
    child = await startBridgeChild<BoardState[]>(24);
    const bridge = child;
    const state = () => bridge.state();
    const seen = BOARDS.map(() => 0);
    const since = async (d: number) => {
      const s = (await state())[d]!;
      const requests = s.log.setups.slice(seen[d]).map(formatSetup);
      seen[d] = s.log.setups.length;
      return { s, requests };
    };
    const boards: Record<string, unknown>[] = [];
    result.boards = boards;
    for (const [d, board] of BOARDS.entries()) {
      const bus = buses[d + 1]!;
      const out: Record<string, unknown> = { board, bus };
      boards.push(out);
      if (board === 'uno') {
        // Enumerated, and refused by the class entry (no functional descriptors): no driver yet.
        const g2 = await waitFor(() => {
          const x = findGadgetOnBus(bus);
          return x && x.interfaces.length === 2 ? x : undefined;
        }, 'the uno board enumerated');
        await sleep(500);
        out.beforeNewId = findGadgetOnBus(bus) ?? g2;
        writeFileSync('/sys/bus/usb/drivers/cdc_acm/new_id', NEW_ID);
        out.newId = NEW_ID;
      }
      const bound = await waitFor(() => boundAcm(bus), `cdc_acm on the ${board} board`);
      out.bound = bound;
      out.probe = (await since(d)).requests;
      const tty = bound.interfaces.find((i) => i.number === 0)!.tty!;
      const sessions: Record<string, unknown>[] = [];
      for (const st of [
        { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
        { baudRate: 31250, dataBits: 7, parity: 'odd', stopBits: 2 },
      ] as const) {
        const tw = performance.now();
        const p = await openTty(`/dev/${tty}`, st);
        const data = patternBytes(4096, st.baudRate + d);
        if (st.dataBits === 7) for (let k = 0; k < data.length; k++) data[k]! &= 0x7f;
        const got: Buffer[] = [];
        p.on('data', (c: Buffer) => got.push(c));
        await new Promise<void>((res, rej) => p.write(Buffer.from(data), (e) => (e ? rej(e) : res())));
        for (let k = 0; k < 300 && Buffer.concat(got).length < data.length; k++) await sleep(20);
        const back = Buffer.concat(got);
        // DTR/RTS: raised by the open (acm_port_dtr_rts), looped back by the plug to DSR/DCD, which
        // the emulation reports in SERIAL_STATE. (node-serialport's set() cannot change them here:
        // it clears break first, and cdc_acm refuses break without the ACM break capability:
        // serialport/node-serialport#2777, serialport/bindings-cpp PR #229.)
        await sleep(200);
        const lines = await modemOf(p);
        const atOpen = (await since(d)).s;
        const modem = { open: { got: { cts: lines.cts, dsr: lines.dsr, dcd: lines.dcd }, chip: { dtr: atOpen.dtr, rts: atOpen.rts } } };
        const { s, requests } = await since(d);
        await closeTty(p);
        const closed = (await since(d)).s;
        sessions.push({ ...st, chip: { line: s.line, lineCoding: s.lineCoding }, requests, modem: { ...modem, closed: { chip: { dtr: closed.dtr, rts: closed.rts } } }, sent: data.length, received: back.length, firstDiff: firstDifference(data, back), ms: Math.round(performance.now() - tw) });
      }
      out.sessions = sessions;
      out.closeRequests = (await since(d)).requests;
    }
    await sleep(200);
    const final = await state();
    final.forEach((s, d) => Object.assign(boards[d]!, { bridge: s.log, latency: s.latency, refusals: s.refusals, notifications: s.notifications }));
  } catch (err) {
    result.error = `${(err as Error).name}: ${(err as Error).message}\n${(err as Error).stack}`;
  }
  const monOut: unknown[] = [];
  for (const m of mons) {
    const u = await m.stop().catch(() => undefined);
    monOut.push(u && { lines: u.lines, controls: u.controls });
  }
  result.usbmon = monOut;
  result.ms = ms();
  result.dmesg = execSync('dmesg | grep -i -E "cdc_acm|ttyACM|ttyGS|usbfs|acm|dummy" | tail -60').toString();
  writeResult(result);
  console.log(JSON.stringify({ ...result, usbmon: undefined, boards: (result.boards as Record<string, unknown>[] | undefined)?.map((b) => ({ ...b, bridge: undefined })) }, null, 1));
  // Best effort: leave the configfs gadget as it was made (the guest powers off next).
  try {
    unlinkSync('/sys/kernel/config/usb_gadget/facm/configs/c.1/acm.gs0');
    rmdirSync('/sys/kernel/config/usb_gadget/facm/functions/acm.gs0');
  } catch {
    // a tty still open keeps the function busy
  }
  child?.kill();
  process.kill(process.pid, 'SIGKILL');
}
