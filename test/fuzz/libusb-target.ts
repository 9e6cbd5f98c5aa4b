// Raw descriptors through the libusb backend: the structures libusb hands the `usb` package
// (configurations, interfaces with their alternates, endpoints with raw bmAttributes and
// wMaxPacketSize) and the raw string descriptors, as a broken device makes them — endpoint
// addresses with reserved bits, wMaxPacketSize 0 or with high-bandwidth bits, interface numbers
// repeated or out of order, alternates not starting at 0, configuration value 0, string
// descriptors odd-length, empty, with a bLength that disagrees with the bytes, or stalling. The
// backend turns them into WebUSB views, the bus and the drivers take it from there.
import fc from 'fast-check';
import {
  inspectDriver,
  DriverModel,
  FTDI_IDS,
  LibusbBackend,
  PL2303_ID_TABLE,
  UsbInterface,
  UsbSubsystem,
  deregisterUsbSerialDrivers,
  ftdiSerialDriver,
  pl2303Driver,
  registerUsbSerialDrivers,
  usbSerialBusOf,
  type AnyDriver,
} from '../../src/index.ts';
import type { LibusbConfigDescriptor, LibusbInterfaceDescriptor } from '../../src/usb/backends/libusb-module.ts';
import { FakeLegacyDevice, FakeLibusb, libusbError } from '../usb/backends/fake-libusb.ts';
import { FuzzViolation, typedErrorName } from './harness.ts';
import type { FuzzTarget } from './targets.ts';

type RawString = { kind: 'ok'; text: string } | { kind: 'bytes'; bytes: number[] } | { kind: 'stall' };

export interface LibusbDraw {
  id: [number, number, number];
  stringIndexes: [number, number, number];
  configs: LibusbConfigDescriptor[];
  strings: RawString[];
  open: boolean;
}

const endpoint = fc.record({
  bEndpointAddress: fc.oneof(fc.constantFrom(0x81, 0x02, 0x83, 0x03), fc.integer({ min: 0, max: 255 })),
  bmAttributes: fc.oneof(fc.constantFrom(2, 2, 3), fc.integer({ min: 0, max: 255 })),
  wMaxPacketSize: fc.oneof(fc.constantFrom(64, 512, 0), fc.integer({ min: 0, max: 0xffff })),
});

const alternate: fc.Arbitrary<LibusbInterfaceDescriptor> = fc.record({
  bInterfaceNumber: fc.integer({ min: 0, max: 4 }),
  bAlternateSetting: fc.constantFrom(0, 0, 1, 2),
  bInterfaceClass: fc.constantFrom(0xff, 0x02, 0x0a, 0),
  bInterfaceSubClass: fc.constantFrom(0xff, 0),
  bInterfaceProtocol: fc.constantFrom(0xff, 0),
  iInterface: fc.integer({ min: 0, max: 5 }),
  endpoints: fc.array(endpoint, { maxLength: 4 }),
});

const config: fc.Arbitrary<LibusbConfigDescriptor> = fc.record({
  bConfigurationValue: fc.constantFrom(1, 1, 0, 2),
  iConfiguration: fc.integer({ min: 0, max: 5 }),
  interfaces: fc.array(fc.array(alternate, { minLength: 1, maxLength: 2 }), { maxLength: 3 }),
});

/** The FTDI (one channel) and PL2303 layouts as libusb reports them. */
function standardConfig(vendor: number): LibusbConfigDescriptor {
  const alt = (n: number, endpoints: LibusbInterfaceDescriptor['endpoints']): LibusbInterfaceDescriptor => ({
    bInterfaceNumber: n,
    bAlternateSetting: 0,
    bInterfaceClass: 0xff,
    bInterfaceSubClass: vendor === 0x0403 ? 0xff : 0,
    bInterfaceProtocol: vendor === 0x0403 ? 0xff : 0,
    iInterface: 2,
    endpoints,
  });
  const interfaces =
    vendor === 0x067b
      ? [[alt(0, [{ bEndpointAddress: 0x81, bmAttributes: 3, wMaxPacketSize: 10 }, { bEndpointAddress: 0x02, bmAttributes: 2, wMaxPacketSize: 64 }, { bEndpointAddress: 0x83, bmAttributes: 2, wMaxPacketSize: 64 }])]]
      : [[alt(0, [{ bEndpointAddress: 0x81, bmAttributes: 2, wMaxPacketSize: 64 }, { bEndpointAddress: 0x02, bmAttributes: 2, wMaxPacketSize: 64 }])]];
  return { bConfigurationValue: 1, iConfiguration: 0, interfaces };
}

/** One damage to a near-right configuration. */
const damage = fc.record({
  kind: fc.constantFrom('packet-size', 'attributes', 'address', 'drop-endpoint', 'duplicate-endpoint', 'duplicate-interface', 'extra-alternate', 'config-value'),
  at: fc.nat(7),
  value: fc.integer({ min: 0, max: 0xffff }),
});

function damaged(base: LibusbConfigDescriptor, damages: { kind: string; at: number; value: number }[]): LibusbConfigDescriptor {
  const c: LibusbConfigDescriptor = structuredClone(base);
  for (const d of damages) {
    const iface = c.interfaces[d.at % c.interfaces.length];
    const alt = iface[0];
    const eps = alt.endpoints;
    const e = eps.length ? eps[d.at % eps.length] : undefined;
    switch (d.kind) {
      case 'packet-size':
        if (e) e.wMaxPacketSize = d.value % 3 === 0 ? 0 : d.value;
        break;
      case 'attributes':
        if (e) e.bmAttributes = d.value & 0xff;
        break;
      case 'address':
        if (e) e.bEndpointAddress = d.value & 0xff;
        break;
      case 'drop-endpoint':
        if (e) eps.splice(eps.indexOf(e), 1);
        break;
      case 'duplicate-endpoint':
        if (e) eps.push({ ...e });
        break;
      case 'duplicate-interface':
        c.interfaces.push(structuredClone(iface));
        break;
      case 'extra-alternate':
        iface.push({ ...structuredClone(alt), bAlternateSetting: d.value % 3 });
        break;
      case 'config-value':
        c.bConfigurationValue = d.value % 3;
        break;
    }
  }
  return c;
}

const rawString: fc.Arbitrary<RawString> = fc.oneof(
  fc.record({ kind: fc.constant('ok' as const), text: fc.string({ maxLength: 10 }) }),
  fc.record({ kind: fc.constant('bytes' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }) }),
  fc.constant({ kind: 'stall' as const }),
);

const IDS: [number, number, number][] = [
  [0x0403, 0x6001, 0x0600],
  [0x0403, 0x6010, 0x0700],
  [0x0403, 0x6001, 0x0200],
  [0x067b, 0x2303, 0x0300],
  [0x067b, 0x23c3, 0x0605],
];

export const libusbDraw: fc.Arbitrary<LibusbDraw> = fc.record({
  id: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...IDS) }, fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))),
  stringIndexes: fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 })),
  configs: fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(0x0403, 0x067b), fc.array(damage, { maxLength: 3 })).map(([v, ds]) => [damaged(standardConfig(v), ds)]) },
    { weight: 2, arbitrary: fc.array(config, { maxLength: 2 }) },
  ),
  strings: fc.array(rawString, { minLength: 5, maxLength: 5 }),
  open: fc.boolean(),
});

class HostileLegacyDevice extends FakeLegacyDevice {
  constructor(
    lib: FakeLibusb,
    private readonly draw: LibusbDraw,
  ) {
    super(lib, 1, [2], 7);
    const [idVendor, idProduct, bcdDevice] = draw.id;
    const [iManufacturer, iProduct, iSerialNumber] = draw.stringIndexes;
    Object.assign(this.deviceDescriptor, { idVendor, idProduct, bcdDevice, iManufacturer, iProduct, iSerialNumber, bMaxPacketSize0: 64, bNumConfigurations: draw.configs.length });
    const base = this.control;
    this.control = (bm, req, value, index, d) => {
      if (bm === 0x80 && req === 6 && value >> 8 === 3 && (value & 0xff) !== 0) {
        const s = draw.strings[((value & 0xff) - 1) % draw.strings.length];
        if (s.kind === 'stall') return { error: libusbError(4, 'LIBUSB_TRANSFER_STALL') };
        if (s.kind === 'bytes') return { data: Buffer.from(s.bytes) };
        const body = Buffer.from(s.text, 'utf16le');
        return { data: Buffer.concat([Buffer.from([Math.min(255, body.length + 2), 3]), body]).subarray(0, 255) };
      }
      return base(bm, req, value, index, d);
    };
  }
  override get configDescriptor(): LibusbConfigDescriptor {
    // libusb_get_active_config_descriptor fails on a device with no configuration.
    if (this.draw.configs.length === 0) throw libusbError(-5, 'LIBUSB_ERROR_NOT_FOUND');
    return this.draw.configs[0];
  }
  override get allConfigDescriptors(): LibusbConfigDescriptor[] {
    return this.draw.configs;
  }
}

export const libusbTarget: FuzzTarget<LibusbDraw> = {
  name: 'libusb-descriptors',
  arb: libusbDraw,
  async run(draw) {
    const lib = new FakeLibusb();
    const dev = new HostileLegacyDevice(lib, draw);
    const backend = new LibusbBackend(lib, { platform: 'darwin' });
    const model = new DriverModel();
    const usb = new UsbSubsystem({ model });
    const stop = await usb.attachBackend(backend);
    const reg = [
      await registerUsbSerialDrivers([ftdiSerialDriver], 'ftdi_sio', FTDI_IDS, { usbBus: usb.bus }),
      await registerUsbSerialDrivers([pl2303Driver], 'pl2303', PL2303_ID_TABLE, { usbBus: usb.bus }),
    ];
    const serialBus = usbSerialBusOf(usb.bus);
    // The backend hands a new device on only after reading its strings (one event-loop turn per
    // control transfer): wait for its queue, not for a count of turns a slow process may not reach.
    const settle = async () => {
      await backend.flush();
      await usb.settled();
    };
    try {
      lib.plug(dev);
      await settle();
      const ports = reg.flatMap((r) => r.ports());
      const devices = usb.bus.listDevices().length;
      // wMaxPacketSize's bits 12..11 (extra transactions per microframe) and 15..13 (reserved) are
      // no part of the packet size (USB 2.0 9.6.6; Linux's usb_endpoint_maxp masks them off).
      for (const node of usb.bus.listDevices()) {
        if (!(node instanceof UsbInterface)) continue;
        for (const e of node.endpoints) {
          if (e.packetSize > 0x7ff) throw new FuzzViolation(`packet size: ${node.name} endpoint 0x${e.address.toString(16)} has packetSize ${e.packetSize}, more than wMaxPacketSize's 11-bit size field holds`);
        }
      }
      let word = devices === 0 ? 'not-on-bus' : ports.length ? `bound(${[...new Set(ports.map((p) => p.serial.type.name))].join('+')})` : 'unbound';
      // A chip answers bulk IN within its latency period (an FTDI with its two status bytes); the
      // fake would hold them forever and make every close wait out the driver's bound.
      const answer = setInterval(() => {
        for (const t of lib.pendingOn(dev)) if (t.address & 0x80) t.complete(undefined, Uint8Array.of(0x01, 0x60));
      }, 1);
      try {
        if (ports.length && draw.open) {
          const r = await ports[0].open().then(
            () => 'ok',
            (err: unknown) => typedErrorName(err, 'open'),
          );
          word += ` open=${r}`;
          if (ports[0].isOpen) await ports[0].close({ closingWaitMs: 0 }).catch((err: unknown) => void typedErrorName(err, 'close'));
        }
      } finally {
        clearInterval(answer);
      }
      if (ports.length === 0 && dev.isOpen) throw new FuzzViolation('leaked-claim: the device is left open with nothing bound');
      lib.unplug(dev);
      await settle();
      if (dev.isOpen) throw new FuzzViolation('leaked-claim: the unplugged device is still open');
      if (lib.pendingOn(dev).length) throw new FuzzViolation(`leaked-transfer: ${lib.pendingOn(dev).length} transfer(s) pending on the unplugged device`);
      for (const r of reg) if (r.adapters().length || r.ports().length) throw new FuzzViolation('adapters or ports left after the unplug');
      for (const d of [...usb.bus.listDrivers(), ...serialBus.listDrivers()] as AnyDriver[]) {
        const pins = inspectDriver(d).pinCount;
        if (pins > 0) throw new FuzzViolation(`leaked-pin: '${d.name}' holds ${pins} pin(s)`);
      }
      if (serialBus.minors.inUse !== 0) throw new FuzzViolation(`leaked-minor: ${serialBus.minors.inUse} minor(s) in use with no port`);
      return word;
    } finally {
      for (const r of reg) if (r.state === 'registered') await deregisterUsbSerialDrivers(r);
      stop();
      await usb.stop();
      await backend.close();
    }
  },
};
