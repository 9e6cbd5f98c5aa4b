// The fuzz targets: each is an arbitrary and a case body that returns the case's outcome kind
// (a short string; the runner counts the distinct ones) or throws a FuzzViolation. The default
// test run and the benchmark run the same targets, with different case counts.
import fc from 'fast-check';
import {
  DescriptorError,
  IdParseError,
  decodeDeviceDescriptor,
  parseHexFields,
  parseUsbNewId,
  parseUsbRemoveId,
  FTDI_IDS,
  type SerialSettings,
  type UsbSerialPort,
} from '../../src/index.ts';
import { createPl2303, loopbackPlug, mockFtdi, parseLsusb, parseLsusbAll, type MockUsbDevice } from '../../mocks/index.ts';
import { LSUSB_FT232R, LSUSB_PL2303HX } from '../fixtures/lsusb.ts';
import {
  answerLie,
  buildDevice,
  bulkFault,
  controlFault,
  deviceDraw,
  plugOptionsOf,
  type AnswerLie,
  type DeviceDraw,
} from './devices.ts';
import { libusbTarget } from './libusb-target.ts';
import { FuzzViolation, fuzzStack, typedErrorName, type FuzzStack } from './harness.ts';
import { macrotask, sleep } from '../helpers/async.ts';

export interface FuzzTarget<T = unknown> {
  name: string;
  arb: fc.Arbitrary<T>;
  run(input: T): Promise<string>;
}

// ---- user calls ---------------------------------------------------------------------------------

const settingsArb: fc.Arbitrary<Partial<SerialSettings>> = fc.record(
  {
    baudRate: fc.oneof(fc.constantFrom(9600, 115200, 300, 3_000_000, 12_000_000), fc.integer({ min: -10, max: 20_000_000 }), fc.constantFrom(0, Number.NaN, 1.5)),
    dataBits: fc.constantFrom(5, 6, 7, 8, 9, 0) as fc.Arbitrary<SerialSettings['dataBits']>,
    parity: fc.constantFrom('none', 'odd', 'even', 'mark', 'space', 'bogus') as fc.Arbitrary<SerialSettings['parity']>,
    stopBits: fc.constantFrom(1, 1.5, 2, 3) as fc.Arbitrary<SerialSettings['stopBits']>,
    flowControl: fc.constantFrom('none', 'rts-cts', 'dtr-dsr', 'xon-xoff', 'psychic') as fc.Arbitrary<SerialSettings['flowControl']>,
  },
  { requiredKeys: [] },
);

type UserOp =
  | { op: 'open'; settings: Partial<SerialSettings> }
  | { op: 'settings'; settings: Partial<SerialSettings> }
  | { op: 'write'; bytes: number }
  | { op: 'signals'; dtr?: boolean; rts?: boolean; brk?: boolean }
  | { op: 'getSignals' }
  | { op: 'flush' }
  | { op: 'close' }
  | { op: 'unplug' };

const userOp: fc.Arbitrary<UserOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('open' as const), settings: settingsArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('settings' as const), settings: settingsArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('write' as const), bytes: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('signals' as const), dtr: fc.option(fc.boolean(), { nil: undefined }), rts: fc.option(fc.boolean(), { nil: undefined }), brk: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: ['op'] }) },
  { weight: 1, arbitrary: fc.constant({ op: 'getSignals' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'close' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'unplug' as const }) },
);

/** A user call and whether the caller waits for it before the next (else they race). */
const step = fc.record({ call: userOp, wait: fc.boolean() });
type Step = { call: UserOp; wait: boolean };

/**
 * A port call's error: typed, and never the backend's NotFoundError: a port whose device is gone
 * fails with its own PortDisconnectedError, as open() and write() do.
 */
function portErrorName(err: unknown, what: string): string {
  const name = typedErrorName(err, what);
  if (name === 'NotFoundError') throw new FuzzViolation(`${what} rejected with the backend's NotFoundError (${(err as Error).message}), not PortDisconnectedError`);
  return name;
}

/** Runs the calls on a port; every failure must be typed. Returns the outcome words. */
async function runUserCalls(stack: FuzzStack, device: MockUsbDevice, port: UsbSerialPort, steps: readonly Step[], between?: (k: number) => void): Promise<string[]> {
  const words: string[] = [];
  const racing: Promise<void>[] = [];
  const track = (label: string, p: Promise<unknown>): Promise<void> =>
    p.then(
      () => void words.push(`${label}:ok`),
      (err: unknown) => void words.push(`${label}:${portErrorName(err, `port.${label}`)}`),
    );
  for (const [k, s] of steps.entries()) {
    between?.(k);
    let p: Promise<void>;
    const c = s.call;
    try {
      switch (c.op) {
        case 'open':
          p = track('open', port.open(c.settings));
          break;
        case 'settings':
          p = track('settings', port.setSettings(c.settings));
          break;
        case 'write':
          p = track('write', port.write(new Uint8Array(c.bytes).map((_, i) => i)));
          break;
        case 'signals':
          p = track('signals', port.setSignals({ ...(c.dtr !== undefined ? { dtr: c.dtr } : {}), ...(c.rts !== undefined ? { rts: c.rts } : {}), ...(c.brk !== undefined ? { brk: c.brk } : {}) }));
          break;
        case 'getSignals':
          p = track('getSignals', port.getSignals());
          break;
        case 'flush':
          p = track('flush', port.flush());
          break;
        case 'close':
          p = track('close', port.close({ closingWaitMs: 20 }));
          break;
        case 'unplug':
          if (device.plugged) stack.host.unplug(device);
          p = Promise.resolve();
          words.push('unplug:unplugged');
          break;
      }
    } catch (err) {
      // A call may refuse synchronously (write on a gone port): typed all the same.
      words.push(`${c.op}:${portErrorName(err, `port.${c.op}`)}`);
      continue;
    }
    if (s.wait) await p;
    else racing.push(p);
  }
  await Promise.all(racing);
  return words;
}

/** How a plugged device's interfaces ended up: bound, partly-bound, unbound (none was), absent. */
function bindingWord(stack: FuzzStack, device: MockUsbDevice): string {
  const dev = stack.usbDeviceOf(device);
  if (!dev) return 'absent';
  const bound = dev.interfaces.filter((i) => i.driver !== null);
  if (bound.length === 0) return dev.interfaces.length === 0 ? 'no-interfaces' : 'unbound';
  const names = [...new Set(bound.map((i) => i.driver!.name))].join('+');
  return `${bound.length === dev.interfaces.length ? 'bound' : 'partly-bound'}(${names})`;
}

/** An outcome kind: how binding ended, then the distinct results of the user calls (ok or an error name). */
function outcome(binding: string, calls: readonly string[]): string {
  const results = [...new Set(calls.map((w) => w.split(':')[1] ?? w))].sort();
  return results.length ? `${binding} ${results.join(',')}` : binding;
}

/** FTDI parts whose VID/PID/bcdDevice and standard layout agree: with nothing wrong, these bind. */
const CANONICAL_FTDI = new Set(['0403:6001:0600', '0403:6010:0700', '0403:6011:0800', '0403:6014:0900', '0403:6015:1000']);

/** A draw with nothing wrong in it (the fuzzer's own sanity: it must bind, or the targets test nothing). */
function isClean(draw: DeviceDraw, lies: readonly AnswerLie[], faults: readonly unknown[]): boolean {
  const key = draw.id.map((n) => n.toString(16).padStart(4, '0')).join(':');
  return CANONICAL_FTDI.has(key) && draw.layout === 'standard' && draw.lies.length === 0 && draw.chip === 'ftdi' && lies.length === 0 && faults.length === 0;
}

/** The common shape of a device case: build, plug, check, user calls, unplug, check. */
async function deviceCase(draw: DeviceDraw, lies: readonly AnswerLie[], faults: readonly import('../../mocks/index.ts').FaultSpec[], steps: readonly Step[]): Promise<string> {
  let built;
  try {
    built = buildDevice(draw, lies);
  } catch (err) {
    if (err instanceof DescriptorError || (err as Error).name === 'DescriptorError') return 'lab-rejected';
    throw err;
  }
  const { device } = built;
  for (const f of faults) device.faults.inject(f);
  const stack = await fuzzStack();
  try {
    await stack.plug(device, undefined, plugOptionsOf(draw));
    stack.checkPlugged([device]);
    const binding = `${bindingWord(stack, device)}${built.chipless ? '/chipless' : ''}`;
    if (isClean(draw, lies, faults) && binding !== 'bound(ftdi_sio)') throw new FuzzViolation(`a well-formed FTDI device ended ${binding}`);
    let calls: string[] = [];
    const ports = stack.portsOf(device);
    for (const p of ports) stack.watchPort(p);
    if (ports.length > 0 && steps.length > 0) {
      calls = await runUserCalls(stack, device, ports[0], steps);
      await stack.settle();
      stack.checkPlugged([device]);
      if (ports[0].isOpen) await ports[0].close({ closingWaitMs: 0 }).catch((err: unknown) => void typedErrorName(err, 'final close'));
    }
    await stack.finish([device]);
    return outcome(binding, calls);
  } finally {
    await stack.dispose();
  }
}

// ---- the targets ----------------------------------------------------------------------------------

/** Descriptors: wrong layouts, lying views, hostile strings; then open and close what bound. */
export const descriptorTarget: FuzzTarget<{ draw: DeviceDraw; open: boolean }> = {
  name: 'descriptors',
  arb: fc.record({ draw: deviceDraw, open: fc.boolean() }),
  run: ({ draw, open }) =>
    deviceCase(draw, [], [], open ? [{ call: { op: 'open', settings: {} }, wait: true }, { call: { op: 'close' }, wait: true }] : []),
};

/** A device of ours in its standard layout, with the chip behind it. */
const ourDevice: fc.Arbitrary<DeviceDraw> = deviceDraw.map((d) => {
  const ftdi = d.id[0] === 0x0403;
  return { ...d, layout: 'standard' as const, lies: [], chip: ftdi ? ('ftdi' as const) : d.id[0] === 0x067b ? ('pl2303' as const) : ('none' as const), strings: { manufacturer: 'x', product: 'y', serialNumber: d.strings.serialNumber } };
});

/** Control answers: stalls, short and over-long data stages, timeouts, answers that change, unplug mid-probe. */
export const controlTarget: FuzzTarget<{ draw: DeviceDraw; lies: AnswerLie[]; faults: import('../../mocks/index.ts').FaultSpec[]; steps: Step[] }> = {
  name: 'control',
  arb: fc.record({
    draw: ourDevice,
    lies: fc.array(answerLie, { maxLength: 2 }),
    faults: fc.array(controlFault, { maxLength: 3 }),
    steps: fc.array(step, { maxLength: 6 }),
  }),
  run: ({ draw, lies, faults, steps }) => deviceCase(draw, lies, faults, steps),
};

/** One thing arriving on an IN endpoint. */
type Arrival =
  | { kind: 'packet'; bytes: number[] }
  | { kind: 'zlp-flood'; count: number }
  | { kind: 'babble'; length: number }
  | { kind: 'interrupt'; bytes: number[] };

const arrival: fc.Arbitrary<Arrival> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('packet' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 66 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('zlp-flood' as const), count: fc.integer({ min: 1, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('babble' as const), length: fc.integer({ min: 65, max: 600 }) }) },
  // PL2303 interrupt packets of every length (the real one is 10 bytes); on FTDI the endpoint is absent.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('interrupt' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }) }) },
);

function deliver(device: MockUsbDevice, a: Arrival): void {
  const pl2303 = device.vendorId === 0x067b;
  const bulkIn = pl2303 ? 0x83 : 0x81;
  if (!device.plugged) return;
  switch (a.kind) {
    case 'packet':
      device.queueIn(bulkIn, a.bytes);
      break;
    case 'zlp-flood':
      for (let k = 0; k < a.count; k++) device.queueIn(bulkIn, []);
      break;
    case 'babble':
      device.queueIn(bulkIn, new Uint8Array(a.length).fill(0xa5));
      break;
    case 'interrupt':
      if (pl2303) device.queueIn(0x81, a.bytes);
      else device.queueIn(bulkIn, a.bytes.slice(0, 2));
      break;
  }
}

/** Bulk and interrupt data: FTDI packets without or with corrupt status, babble, ZLP floods, interrupt packets, bytes after close; racing user calls. */
export const dataTarget: FuzzTarget<{ draw: DeviceDraw; faults: import('../../mocks/index.ts').FaultSpec[]; arrivals: Arrival[]; steps: Step[]; afterClose: Arrival[] }> = {
  name: 'data',
  arb: fc.record({
    draw: ourDevice.filter((d) => d.id[0] !== 0x0403 || d.id[2] !== 0x0200),
    faults: fc.array(bulkFault, { maxLength: 2 }),
    arrivals: fc.array(arrival, { maxLength: 8 }),
    steps: fc.array(step, { minLength: 1, maxLength: 8 }),
    afterClose: fc.array(arrival, { maxLength: 3 }),
  }),
  async run({ draw, faults, arrivals, steps, afterClose }) {
    const { device } = buildDevice(draw);
    const stack = await fuzzStack();
    try {
      await stack.plug(device, undefined, plugOptionsOf(draw));
      stack.checkPlugged([device]);
      const ports = stack.portsOf(device);
      const binding = bindingWord(stack, device);
      const calls: string[] = [];
      if (ports.length === 0) {
        await stack.finish([device]);
        return binding;
      }
      const port = ports[0];
      stack.watchPort(port);
      await port.open().catch((err: unknown) => void calls.push(`first-open:${typedErrorName(err, 'open')}`));
      for (const f of faults) device.faults.inject(f);
      calls.push(...await runUserCalls(stack, device, port, steps, (k) => {
        const a = arrivals[k % Math.max(1, arrivals.length)];
        if (a && k < arrivals.length) deliver(device, a);
      }));
      for (const a of arrivals.slice(steps.length)) deliver(device, a);
      await sleep(2);
      // Bytes after close: the port, closed, hands nothing on.
      if (port.isOpen) await port.close({ closingWaitMs: 0 }).catch((err: unknown) => void typedErrorName(err, 'close'));
      let late = 0;
      const sub = port.events.subscribe((e) => {
        if (e.type === 'data' && !port.isOpen) late++;
      });
      for (const a of afterClose) deliver(device, a);
      await sleep(1);
      await macrotask();
      sub.unsubscribe();
      if (late > 0) throw new FuzzViolation(`${late} data event(s) after the port was closed`);
      await stack.settle();
      stack.checkPlugged([device]);
      await stack.finish([device]);
      return outcome(binding, calls);
    } finally {
      await stack.dispose();
    }
  },
};

/** How late a slow garbage device answers each control request. */
const SLOW_MS = 1000;

/** A well-behaved dongle with a loopback plug. */
function goodDevice(part: 'FT232R' | 'PL2303HX'): { device: MockUsbDevice } {
  if (part === 'FT232R') {
    const f = mockFtdi('FT232R', { serialNumber: 'GOOD0001', device: { transferLog: { limit: 0 } } });
    loopbackPlug(f.uart());
    return f;
  }
  const p = createPl2303('PL2303HX', { descriptor: { serialNumber: 'GOOD0002' }, device: { transferLog: { limit: 0 } } });
  loopbackPlug(p.chip.uart);
  return p;
}

/** Hotplug: a garbage device must not stall the stream for a good one, plugged before or after it. */
export const hotplugTarget: FuzzTarget<{ draw: DeviceDraw; lies: AnswerLie[]; faults: import('../../mocks/index.ts').FaultSpec[]; good: 'FT232R' | 'PL2303HX'; goodFirst: boolean; unplugGarbage: boolean; slow: boolean }> = {
  name: 'hotplug',
  arb: fc.record({
    draw: deviceDraw,
    lies: fc.array(answerLie, { maxLength: 2 }),
    faults: fc.array(controlFault, { maxLength: 3 }),
    good: fc.constantFrom<'FT232R' | 'PL2303HX'>('FT232R', 'PL2303HX'),
    goodFirst: fc.boolean(),
    unplugGarbage: fc.boolean(),
    slow: fc.boolean(),
  }),
  async run({ draw, lies, faults, good: goodPart, goodFirst, unplugGarbage, slow }) {
    let garbage: MockUsbDevice | undefined;
    try {
      garbage = buildDevice(draw, lies, SLOW_MS * 2).device;
      // A device that answers every control request late: its probe is still running while the good one must bind.
      if (slow) garbage.faults.inject({ on: 'control', kind: 'delay', ms: SLOW_MS, times: Infinity });
      for (const f of faults) garbage.faults.inject(f);
    } catch (err) {
      if ((err as Error).name !== 'DescriptorError') throw err;
    }
    const good = goodDevice(goodPart);
    const stack = await fuzzStack();
    try {
      // Both plugged without waiting in between: their events share the hotplug stream.
      if (goodFirst) stack.host.plug(good.device, '2-1');
      if (garbage) stack.host.plug(garbage, '1-1', plugOptionsOf(draw));
      if (!goodFirst) stack.host.plug(good.device, '2-1');
      if (garbage && unplugGarbage) stack.host.unplug(garbage);
      const all = garbage ? [garbage, good.device] : [good.device];
      let lateBind = false;
      if (slow && garbage?.plugged) {
        // The good one must bind while the garbage is still being asked (its control requests
        // answer SLOW_MS late), not only once everything has settled (read first, so a good one
        // bound only after the garbage's probe fails even when both are seen at once). Not a
        // wall-clock bound: a loaded machine may take its time binding the good one.
        let settled = false;
        let asked = false;
        void stack.settle().then(() => void (settled = true));
        while (!settled && stack.portsOf(good.device).length === 0) {
          if (garbage.pendingOn(0) > 0) asked = true;
          await sleep(1);
        }
        lateBind = settled && asked;
      } else {
        await stack.settle();
        stack.checkPlugged(all);
      }
      const ports = stack.portsOf(good.device);
      if (ports.length !== 1 || lateBind) throw new FuzzViolation(`the good ${goodPart} has ${ports.length} port(s) next to the garbage device${lateBind ? ' (bound only once the garbage probe had ended)' : ''}`);
      const port = ports[0];
      stack.watchPort(port);
      await port.open({ baudRate: 115200 });
      const got: number[] = [];
      const sub = port.events.subscribe((e) => {
        if (e.type === 'data') got.push(...e.data);
      });
      await port.write(Uint8Array.of(1, 2, 3));
      for (let k = 0; k < 200 && got.length < 3; k++) await sleep(1);
      sub.unsubscribe();
      if (got.join() !== '1,2,3') throw new FuzzViolation(`the good ${goodPart} looped back [${got.join()}] next to the garbage device`);
      // The port is left open: the unplug in finish() closes it (and checks it let go).
      const word = slow && garbage?.plugged ? 'slow-garbage' : garbage?.plugged ? bindingWord(stack, garbage) : garbage ? 'garbage-unplugged' : 'lab-rejected';
      await stack.finish(all);
      return word;
    } finally {
      await stack.dispose();
    }
  },
};

// ---- parsers --------------------------------------------------------------------------------------

/** Text that is mostly a real dump with damage: lines dropped, duplicated, cut, numbers changed. */
const damagedLsusb = fc
  .record({
    base: fc.constantFrom(LSUSB_FT232R, LSUSB_PL2303HX, `${LSUSB_FT232R}\n${LSUSB_PL2303HX}`),
    edits: fc.array(
      fc.record({
        at: fc.nat(),
        kind: fc.constantFrom('drop', 'dup', 'cut', 'number', 'indent', 'junk'),
        n: fc.integer({ min: 0, max: 0xffff }),
        junk: fc.string({ maxLength: 20 }),
      }),
      { maxLength: 6 },
    ),
  })
  .map(({ base, edits }) => {
    const lines = base.split('\n');
    for (const e of edits) {
      if (lines.length === 0) break;
      const i = e.at % lines.length;
      switch (e.kind) {
        case 'drop':
          lines.splice(i, 1);
          break;
        case 'dup':
          lines.splice(i, 0, lines[i]);
          break;
        case 'cut':
          lines[i] = lines[i].slice(0, e.n % (lines[i].length + 1));
          break;
        case 'number':
          lines[i] = lines[i].replace(/\b(0x[0-9a-f]+|\d+)\b/i, e.n % 3 === 0 ? `0x${e.n.toString(16)}` : String(e.n));
          break;
        case 'indent':
          lines[i] = ' '.repeat(e.n % 9) + lines[i].trimStart();
          break;
        case 'junk':
          lines[i] = `${lines[i]}${e.junk}`;
          break;
      }
    }
    return lines.join('\n');
  });

type ParserInput =
  | { parser: 'lsusb'; text: string }
  | { parser: 'new_id' | 'remove_id' | 'hex'; text: string }
  | { parser: 'device-descriptor'; bytes: number[] }
  | { parser: 'attr'; file: string; text: string };

const idText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.array(fc.oneof(fc.constantFrom('0403', '6001', '7777', 'ff', '0x10', '-1', '10000', 'zz', '', ' ', '\t', '\n', '0403 6001'), fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFx'), maxLength: 6 })), { maxLength: 6 }).map((w) => w.join(' ')),
);

export const parserTarget: FuzzTarget<ParserInput> = {
  name: 'parsers',
  arb: fc.oneof(
    fc.record({ parser: fc.constant('lsusb' as const), text: fc.oneof({ weight: 4, arbitrary: damagedLsusb }, { weight: 1, arbitrary: fc.string({ maxLength: 200 }) }) }),
    fc.record({ parser: fc.constantFrom('new_id' as const, 'remove_id' as const, 'hex' as const), text: idText }),
    fc.record({ parser: fc.constant('device-descriptor' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 24 }) }),
    fc.record({
      parser: fc.constant('attr' as const),
      file: fc.constantFrom('bus/usb/drivers/ftdi_sio/new_id', 'bus/usb/drivers/ftdi_sio/remove_id', 'bus/usb/drivers/pl2303/new_id', 'bus/usb/drivers/ftdi_sio/bind', 'bus/usb/drivers/ftdi_sio/unbind', 'bus/usb/drivers_autoprobe', 'bus/usb/drivers_probe', 'bus/usb-serial/drivers/ftdi_sio/new_id', 'bus/usb/drivers/nope/new_id', ''),
      text: fc.oneof(idText, fc.constantFrom('0403 7777', '0403 7777 ff', '0403 7777 ff 0403 6001', '0403 7777 ff 0403 dead', '1-1:1.0', '1-1', '0', '1')),
    }),
  ),
  async run(input) {
    switch (input.parser) {
      case 'lsusb': {
        try {
          const all = parseLsusbAll(input.text);
          if (all.length === 1) parseLsusb(input.text);
          return `lsusb:ok(${Math.min(all.length, 3)})`;
        } catch (err) {
          return `lsusb:${typedErrorName(err, 'parseLsusb')}`;
        }
      }
      case 'new_id':
      case 'remove_id':
      case 'hex': {
        try {
          if (input.parser === 'new_id') {
            const id = parseUsbNewId(input.text, FTDI_IDS);
            if (!(id.vendor! <= 0xffff && id.product! <= 0xffff)) throw new FuzzViolation(`new_id parsed out of range: ${JSON.stringify(id)}`);
          } else if (input.parser === 'remove_id') parseUsbRemoveId(input.text);
          else parseHexFields(input.text, [{ name: 'a', max: 0xffff }, { name: 'b', max: 0xff }], 1);
          return `${input.parser}:ok`;
        } catch (err) {
          if (err instanceof FuzzViolation) throw err;
          if (!(err instanceof IdParseError)) throw new FuzzViolation(`${input.parser} threw ${(err as Error).name}, not IdParseError: ${(err as Error).message}`);
          return `${input.parser}:IdParseError`;
        }
      }
      case 'device-descriptor': {
        try {
          const b = Uint8Array.from(input.bytes);
          const d = decodeDeviceDescriptor(new DataView(b.buffer));
          if (d.idVendor > 0xffff || d.bNumConfigurations > 0xff) throw new FuzzViolation('decoded out of range');
          return 'device-descriptor:ok';
        } catch (err) {
          if (err instanceof FuzzViolation) throw err;
          return `device-descriptor:${typedErrorName(err, 'decodeDeviceDescriptor')}`;
        }
      }
      case 'attr': {
        // Attribute writes on a live stack with a custom-ID FTDI plugged: a good new_id binds it.
        const f = mockFtdi('FT232R', { idProduct: 0x7777, serialNumber: 'ATTR0001', device: { transferLog: { limit: 0 } } });
        const stack = await fuzzStack();
        try {
          await stack.plug(f.device);
          const r = await stack.model.attrs.write(input.file, input.text);
          await stack.settle();
          stack.checkPlugged([f.device]);
          if (!r.ok && r.error.name !== 'AttrError') throw new FuzzViolation(`attribute write failed with ${r.error.name}`);
          const word = `attr:${r.ok ? 'ok' : r.error.code}:${bindingWord(stack, f.device)}`;
          await stack.finish([f.device]);
          return word;
        } finally {
          await stack.dispose();
        }
      }
    }
  },
};

export const TARGETS: readonly FuzzTarget<never>[] = [descriptorTarget, libusbTarget, controlTarget, dataTarget, hotplugTarget, parserTarget] as unknown as FuzzTarget<never>[];
