// Hostile and broken devices for the fuzzer: descriptor sets that lie, control answers that are
// wrong, and the generators (fast-check arbitraries) that make them.
//
// A device reaches the stack through what a backend shows of it (WebUSB's USBConfiguration) and
// through what it answers. The mock lab validates a descriptor set the way a sane device would
// have it (defineDevice); what a broken device shows beyond that — endpoints a backend listed twice
// or dropped when bNumEndpoints disagreed with what followed, a wMaxPacketSize of 0, an interface
// listed twice (libusb groups only consecutive interface descriptors into alternates) — is laid
// over the WebUSB view by LyingDevice, while the emulation behind it stays the real chip's.
import fc from 'fast-check';
import {
  FTDI_PARTS,
  FtdiChipEmulation,
  MockUsbDevice,
  Pl2303Chip,
  defineDevice,
  ftdiPartFor,
  type ControlReply,
  type ControlSetup,
  type DeviceDescriptor,
  type DeviceSpec,
  type EndpointSpec,
  type EndpointTransferType,
  type FaultSpec,
  type InterfaceSpec,
  type MockBehaviour,
  type MockDeviceContext,
  type PlugOptions,
} from '../../mocks/index.ts';

// ---- identities ---------------------------------------------------------------------------

/** VID/PID/bcdDevice of ours (the FTDI and PL2303 tables and chip-type boundaries) and others. */
const OUR_IDS: readonly [number, number, number][] = [
  [0x0403, 0x6001, 0x0600],
  [0x0403, 0x6001, 0x0400],
  [0x0403, 0x6001, 0x0200],
  [0x0403, 0x6001, 0x0100],
  [0x0403, 0x6010, 0x0500],
  [0x0403, 0x6010, 0x0700],
  [0x0403, 0x6011, 0x0800],
  [0x0403, 0x6014, 0x0900],
  [0x0403, 0x6015, 0x1000],
  [0x0403, 0x6041, 0x2800],
  [0x067b, 0x2303, 0x0300],
  [0x067b, 0x2303, 0x0400],
  [0x067b, 0x2303, 0x0202],
  [0x067b, 0x23a3, 0x0605],
  [0x067b, 0x23c3, 0x0605],
  [0x067b, 0x2303, 0x0100],
];

export type ChipKind = 'ftdi' | 'pl2303' | 'none';

/** One interface as the generator draws it (before the lab's sanity rules). */
export interface InterfaceDraw {
  number: number | null;
  cls: number;
  endpoints: { ep: number; in: boolean; type: EndpointTransferType; size: number }[];
}

/** What a lying backend view does to one interface's endpoint list (indexes wrap). */
export interface EndpointLie {
  iface: number;
  kind: 'drop' | 'duplicate' | 'zero-size' | 'flip-direction' | 'flip-type' | 'huge-size' | 'duplicate-interface';
  at: number;
}

export interface DeviceDraw {
  id: [number, number, number];
  bcdUSB: number;
  /** The standard FTDI/PL2303 layout for the ID (then optionally lied about), or a drawn one. */
  layout: 'standard' | InterfaceDraw[];
  strings: { manufacturer: string | null; product: string | null; serialNumber: string | null };
  lies: EndpointLie[];
  chip: ChipKind;
  /** How the host plugs it: configured at plug (Linux) or not, one IN transfer in flight (nusb) or more (libusb), a kernel driver bound or none. */
  host: { configureAtPlug: boolean; inFlight: 1 | 4; kernelDriver: 'all' | 'none' };
}

const hostileString = fc.oneof(
  fc.constant(null),
  fc.constant(''),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  // Lone surrogates: what a UTF-16 string descriptor of odd bytes decodes to.
  fc.constantFrom('\ud800', 'A\udfffB', '\u0000\u0000', '\uffff'),
  fc.constant('x'.repeat(300)),
);

const endpointDraw = fc.record({
  ep: fc.integer({ min: 1, max: 15 }),
  in: fc.boolean(),
  type: fc.constantFrom<EndpointTransferType>('bulk', 'bulk', 'interrupt', 'isochronous', 'control'),
  size: fc.oneof(fc.constantFrom(8, 16, 64, 512, 1023, 1024), fc.integer({ min: 1, max: 0x1fff })),
});

const interfaceDraw: fc.Arbitrary<InterfaceDraw> = fc.record({
  number: fc.option(fc.integer({ min: 0, max: 7 }), { nil: null }),
  cls: fc.constantFrom(0xff, 0xff, 0x02, 0x0a, 0x03, 0x00),
  endpoints: fc.array(endpointDraw, { maxLength: 5 }),
});

export const endpointLie: fc.Arbitrary<EndpointLie> = fc.record({
  iface: fc.nat(7),
  kind: fc.constantFrom<EndpointLie['kind']>('drop', 'duplicate', 'zero-size', 'flip-direction', 'flip-type', 'huge-size', 'duplicate-interface'),
  at: fc.nat(7),
});

export const deviceDraw: fc.Arbitrary<DeviceDraw> = fc.record({
  id: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...OUR_IDS) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0x0403, 0x067b), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })) },
  ),
  bcdUSB: fc.constantFrom(0x0110, 0x0200, 0x0200, 0x0300),
  layout: fc.oneof({ weight: 2, arbitrary: fc.constant('standard' as const) }, { weight: 3, arbitrary: fc.array(interfaceDraw, { maxLength: 4 }) }),
  strings: fc.record({ manufacturer: hostileString, product: hostileString, serialNumber: hostileString }),
  lies: fc.array(endpointLie, { maxLength: 3 }),
  chip: fc.constantFrom<ChipKind>('ftdi', 'pl2303', 'none'),
  host: fc.record({
    configureAtPlug: fc.constantFrom(true, true, true, false),
    inFlight: fc.constantFrom<1 | 4>(4, 1),
    kernelDriver: fc.constantFrom<'all' | 'none'>('all', 'none'),
  }),
});

/** The host's plug options for a draw. */
export function plugOptionsOf(d: DeviceDraw): PlugOptions {
  return { configureAtPlug: d.host.configureAtPlug, maxTransfersInFlight: d.host.inFlight, kernelDriver: { bound: d.host.kernelDriver } };
}

/** The interfaces a real part of this vendor has (FTDI: one per channel; PL2303: int + bulk pair). */
function standardInterfaces(vendor: number, product: number): InterfaceSpec[] {
  if (vendor === 0x067b) {
    return [
      {
        bInterfaceNumber: 0,
        endpoints: [
          { bEndpointAddress: 0x81, type: 'interrupt', wMaxPacketSize: 10 },
          { bEndpointAddress: 0x02, type: 'bulk', wMaxPacketSize: 64 },
          { bEndpointAddress: 0x83, type: 'bulk', wMaxPacketSize: 64 },
        ],
      },
    ];
  }
  const channels = product === 0x6010 ? 2 : product === 0x6011 ? 4 : 1;
  return Array.from({ length: channels }, (_, i) => ({
    bInterfaceNumber: i,
    endpoints: [
      { bEndpointAddress: 0x81 + 2 * i, type: 'bulk' as const, wMaxPacketSize: 64 },
      { bEndpointAddress: 0x02 + 2 * i, type: 'bulk' as const, wMaxPacketSize: 64 },
    ],
  }));
}

/**
 * The descriptor set of a draw, made acceptable to the lab: an endpoint address once per
 * configuration, interface numbers unique, a nonzero wMaxPacketSize (the view lies add the rest).
 */
export function specOf(d: DeviceDraw): DeviceSpec {
  const [idVendor, idProduct, bcdDevice] = d.id;
  let interfaces: InterfaceSpec[];
  if (d.layout === 'standard') {
    interfaces = standardInterfaces(idVendor, idProduct);
  } else {
    const usedEp = new Set<number>();
    const usedIf = new Set<number>();
    interfaces = [];
    d.layout.forEach((i, k) => {
      let n = i.number ?? k;
      while (usedIf.has(n)) n++;
      usedIf.add(n);
      const endpoints: EndpointSpec[] = [];
      for (const e of i.endpoints) {
        const addr = e.ep | (e.in ? 0x80 : 0);
        if (usedEp.has(addr)) continue;
        usedEp.add(addr);
        endpoints.push({ bEndpointAddress: addr, type: e.type, wMaxPacketSize: e.size });
      }
      interfaces.push({ bInterfaceNumber: n, bInterfaceClass: i.cls, endpoints });
    });
  }
  return {
    idVendor,
    idProduct,
    bcdDevice,
    bcdUSB: d.bcdUSB,
    bMaxPacketSize0: d.bcdUSB >= 0x0300 ? 9 : 64,
    ...d.strings,
    configurations: [{ interfaces }],
  };
}

// ---- the lying view ------------------------------------------------------------------------

function flipType(t: USBEndpoint['type']): USBEndpoint['type'] {
  return t === 'bulk' ? 'interrupt' : t === 'interrupt' ? 'isochronous' : 'bulk';
}

/** The WebUSB configuration with the lies applied (interface and alternate objects are copies). */
function lieAbout(config: USBConfiguration, lies: readonly EndpointLie[]): USBConfiguration {
  const interfaces: USBInterface[] = config.interfaces.map((i) => ({
    interfaceNumber: i.interfaceNumber,
    claimed: i.claimed,
    alternate: i.alternate,
    alternates: i.alternates,
  }));
  for (const lie of lies) {
    if (interfaces.length === 0) break;
    const iface = interfaces[lie.iface % interfaces.length];
    if (lie.kind === 'duplicate-interface') {
      interfaces.push(iface);
      continue;
    }
    const alt = iface.alternate;
    const eps = [...alt.endpoints];
    const at = eps.length ? lie.at % eps.length : 0;
    const e = eps[at];
    switch (lie.kind) {
      case 'drop':
        eps.splice(at, 1);
        break;
      case 'duplicate':
        if (e) eps.push(e);
        break;
      case 'zero-size':
        if (e) eps[at] = { ...e, packetSize: 0 };
        break;
      case 'huge-size':
        if (e) eps[at] = { ...e, packetSize: 0xffff };
        break;
      case 'flip-direction':
        if (e) eps[at] = { ...e, direction: e.direction === 'in' ? 'out' : 'in' };
        break;
      case 'flip-type':
        if (e) eps[at] = { ...e, type: flipType(e.type) };
        break;
    }
    const lied: USBAlternateInterface = { ...alt, endpoints: eps };
    const copy: USBInterface = { interfaceNumber: iface.interfaceNumber, claimed: iface.claimed, alternate: lied, alternates: [lied, ...iface.alternates.slice(1)] };
    interfaces[interfaces.indexOf(iface)] = copy;
  }
  return { configurationValue: config.configurationValue, configurationName: config.configurationName, interfaces };
}

/** A mock device whose WebUSB view (what a backend parsed) disagrees with what it is. */
export class LyingDevice extends MockUsbDevice {
  private readonly lies: readonly EndpointLie[];
  private readonly liedConfigs = new Map<USBConfiguration, USBConfiguration>();

  constructor(descriptor: DeviceDescriptor, behaviour: MockBehaviour, lies: readonly EndpointLie[], options: { transferTimeoutMs?: number } = {}) {
    super(descriptor, behaviour, { ...options, transferLog: { limit: 0 } });
    this.lies = lies;
    if (lies.length) {
      const view = this.configurations.map((c) => this.lied(c));
      Object.defineProperty(this, 'configurations', { value: view, enumerable: true });
    }
  }

  override get configuration(): USBConfiguration | null {
    const c = super.configuration;
    return c && this.lies.length ? this.lied(c) : c;
  }

  private lied(c: USBConfiguration): USBConfiguration {
    let l = this.liedConfigs.get(c);
    if (!l) {
      l = lieAbout(c, this.lies);
      this.liedConfigs.set(c, l);
    }
    return l;
  }
}

// ---- control answers ------------------------------------------------------------------------

/** How a wrong control answer is wrong. */
export interface AnswerLie {
  /** bRequest it applies to (vendor and class IN requests; standard GET_DESCRIPTOR when 6). */
  request: number;
  /** random: drawn bytes, a different slice at each read (chip detection reads twice). */
  mode: 'random' | 'empty' | 'short' | 'long' | 'flip';
  bytes: number[];
  /** Answers before this one pass unchanged. */
  skip: number;
}

export const answerLie: fc.Arbitrary<AnswerLie> = fc.record({
  request: fc.constantFrom(0x01, 0x05, 0x06, 0x0a, 0x21, 0x90, 0x00),
  mode: fc.constantFrom<AnswerLie['mode']>('random', 'empty', 'short', 'long', 'flip'),
  bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 24 }),
  skip: fc.nat(3),
});

/**
 * The chip emulation with its IN answers rewritten by the lies: the real chip still sees every
 * request (its state stays its own), the host gets the lie.
 */
export class LyingBehaviour implements MockBehaviour {
  private readonly seen = new Map<AnswerLie, number>();

  constructor(
    private readonly inner: MockBehaviour,
    private readonly lies: readonly AnswerLie[],
  ) {}

  bind(ctx: MockDeviceContext): void {
    this.inner.bind?.(ctx);
  }

  async onControl(setup: ControlSetup, data: Uint8Array | undefined, ctx: MockDeviceContext): Promise<ControlReply> {
    const real = await this.inner.onControl?.(setup, data, ctx);
    if (setup.direction !== 'in') return real;
    const lie = this.lies.find((l) => l.request === setup.bRequest);
    if (!lie) return real;
    const n = this.seen.get(lie) ?? 0;
    this.seen.set(lie, n + 1);
    if (n < lie.skip) return real;
    // A standard request the chip leaves to the base is answered from the descriptors by the base,
    // which this wrapper cannot see: lie with drawn bytes instead.
    const base = real instanceof Uint8Array ? real : new Uint8Array(0);
    switch (lie.mode) {
      case 'random': {
        const from = n % lie.bytes.length;
        return Uint8Array.from([...lie.bytes.slice(from), ...lie.bytes.slice(0, from)]).subarray(0, 1 + ((n * 7) % lie.bytes.length));
      }
      case 'empty':
        return 'ack';
      case 'short':
        return base.length > 1 ? base.subarray(0, base.length - 1) : Uint8Array.from(lie.bytes.slice(0, 1));
      case 'long':
        return Uint8Array.from([...base, ...lie.bytes]);
      case 'flip':
        return base.length ? base.map((b, i) => b ^ (lie.bytes[i % lie.bytes.length] || 0xff)) : Uint8Array.from(lie.bytes);
    }
  }

  onOut(endpointAddress: number, data: Uint8Array, ctx: MockDeviceContext) {
    return this.inner.onOut?.(endpointAddress, data, ctx);
  }
  onIn(endpointAddress: number, maxBytes: number, ctx: MockDeviceContext) {
    return this.inner.onIn?.(endpointAddress, maxBytes, ctx);
  }
  plugged(ctx: MockDeviceContext): void {
    this.inner.plugged?.(ctx);
  }
  unplugged(ctx: MockDeviceContext): void {
    this.inner.unplugged?.(ctx);
  }
  reset(ctx: MockDeviceContext): void {
    this.inner.reset?.(ctx);
  }
  opened(ctx: MockDeviceContext): void {
    this.inner.opened?.(ctx);
  }
  closed(ctx: MockDeviceContext): void {
    this.inner.closed?.(ctx);
  }
  configurationChanged(v: number | null, ctx: MockDeviceContext): void {
    this.inner.configurationChanged?.(v, ctx);
  }
  alternateChanged(i: number, a: number, ctx: MockDeviceContext): void {
    this.inner.alternateChanged?.(i, a, ctx);
  }
  haltCleared(ep: number, ctx: MockDeviceContext): void {
    this.inner.haltCleared?.(ep, ctx);
  }
}

// ---- faults -----------------------------------------------------------------------------------

/** Vendor/class requests the FTDI and PL2303 drivers send, and SET_CONFIGURATION / GET_DESCRIPTOR. */
const REQUESTS = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x09, 0x0a, 0x0b, 0x20, 0x21, 0x22, 0x23, 0x90];

export const controlFault: fc.Arbitrary<FaultSpec> = fc
  .record({
    request: fc.option(fc.constantFrom(...REQUESTS), { nil: undefined }),
    kind: fc.constantFrom<FaultSpec['kind']>('stall', 'stall', 'timeout', 'short', 'babble', 'delay', 'disconnect'),
    ms: fc.integer({ min: 0, max: 15 }),
    bytes: fc.integer({ min: 0, max: 8 }),
    times: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(Infinity)),
    skip: fc.nat(8),
  })
  .map((f): FaultSpec => {
    const spec: FaultSpec = { on: 'control', kind: f.kind, times: f.times, skip: f.skip };
    if (f.request !== undefined) spec.request = f.request;
    if (f.kind === 'babble') spec.direction = 'in';
    if (f.kind === 'timeout' || f.kind === 'delay' || f.kind === 'disconnect') spec.ms = f.ms;
    if (f.kind === 'short' || f.kind === 'babble') spec.bytes = f.bytes;
    return spec;
  });

export const bulkFault: fc.Arbitrary<FaultSpec> = fc
  .record({
    on: fc.constantFrom<'in' | 'out'>('in', 'out'),
    kind: fc.constantFrom<FaultSpec['kind']>('stall', 'timeout', 'short', 'babble', 'delay', 'disconnect'),
    ms: fc.integer({ min: 0, max: 15 }),
    bytes: fc.integer({ min: 0, max: 80 }),
    times: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(Infinity)),
    skip: fc.nat(6),
  })
  .map((f): FaultSpec => {
    const kind = f.on === 'out' && f.kind === 'babble' ? 'stall' : f.kind;
    // An endless disconnect or timeout on every read would only repeat itself: at most 3.
    const times = kind === 'stall' || kind === 'short' || kind === 'babble' || kind === 'delay' ? f.times : Math.min(3, f.times);
    const spec: FaultSpec = { on: f.on, kind, times, skip: f.skip };
    if (kind === 'timeout' || kind === 'delay' || kind === 'disconnect') spec.ms = f.ms;
    if (kind === 'short' || kind === 'babble') spec.bytes = f.bytes;
    return spec;
  });

// ---- building ---------------------------------------------------------------------------------

export interface Built {
  device: MockUsbDevice;
  /** Why no chip emulation is behind it (the emulation refused the layout), if none is. */
  chipless?: string;
}

/** The chip emulation for a kind, if it accepts the descriptor set. */
function chipFor(kind: ChipKind, d: DeviceDescriptor): MockBehaviour | string {
  try {
    if (kind === 'ftdi') return new FtdiChipEmulation(ftdiPartFor(d.bcdDevice) ?? FTDI_PARTS.FT232R, d, {});
    if (kind === 'pl2303') return new Pl2303Chip({ type: d.bcdDevice === 0x0300 ? 'HX' : d.bcdDevice === 0x0605 ? 'HXN' : 'HXD', clone: false });
    return 'none';
  } catch (err) {
    return (err as Error).name;
  }
}

/**
 * The device of a draw (throws the lab's DescriptorError for a set it cannot represent), with
 * the chip behind it lying as told. Transfers time out after `timeoutMs`, as a backend's do.
 */
export function buildDevice(draw: DeviceDraw, answerLies: readonly AnswerLie[] = [], timeoutMs = 200): Built {
  const d = defineDevice(specOf(draw));
  const chip = chipFor(draw.chip, d);
  const inner: MockBehaviour = typeof chip === 'string' ? {} : chip;
  const device = new LyingDevice(d, answerLies.length ? new LyingBehaviour(inner, answerLies) : inner, draw.lies, { transferTimeoutMs: timeoutMs });
  return typeof chip === 'string' ? { device, chipless: chip } : { device };
}
