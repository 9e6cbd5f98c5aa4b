// The built-in mock lab: a bench of emulated FTDI and PL2303 dongles on a mock USB host, with
// their UARTs wired the way a lab wires real ones (loopback plugs, null-modem cables), two hubs
// (one with per-port power switching, one ganged), plug/unplug by name. The lab knows no driver:
// whoever builds it passes the driver sets its dongles are for (drivers/index.ts
// defaultDriverSets() for the default bench). The CLI's --mock-lab, `npm start` and the stress
// harness all start from it.
//
// A dongle is connected to the host when its cable is in (plug/unplug) and, behind a hub, when
// that hub port has power (the hub's SET/CLEAR_FEATURE PORT_POWER, as uhubctl sends it). A wire
// carries bytes only while every dongle on it is powered: an unpowered UART hears nothing, and a
// powered one nobody reads drops what it cannot hold.
import type { NewIdCandidate, Topology, TopologyDongle, TopologyLink } from '../src/stress/schedule.ts';
import type { HostBackend, HostDevice } from '../src/usb/host.ts';
import type { DeviceSpec } from './descriptors.ts';
import { MockUsbDevice, type ControlSetup, type MockBehaviour, type MockDeviceContext } from './device.ts';
import { MockLabError } from './errors.ts';
import { mockFtdi } from './ftdi/index.ts';
import { MockUsbHost, type MockUsbHostOptions } from './host.ts';
import { createPl2303 } from './pl2303/index.ts';
import { createCp210x } from './cp210x/index.ts';
import { createCh34x } from './ch34x/index.ts';
import { cdcAcmBoardInfo, createCdcAcm } from './cdc-acm/index.ts';
import { nullModem, UartPort, type Wire } from './uart.ts';

/**
 * What the lab reads of a driver set (a UsbSerialDriverSet fits): its usb driver's name, which
 * the dongles' `driverSet` refers to, and its serial drivers' names, for the topology.
 */
export interface LabDriverSet {
  readonly name: string;
  readonly specs: readonly { readonly name: string }[];
}

/** A port of a dongle: its lab name (slot), where it is on the device, which UART it is. */
export interface LabPortSpec {
  slot: string;
  interfaceNumber: number;
  portNumber?: number;
  uart: number;
}

export interface LabDongleSpec {
  name: string;
  /** Builds the emulated device and its UART pins (one per channel). Called once. */
  create(): { device: MockUsbDevice; uarts: readonly UartPort[] };
  /** Port path on the host, e.g. '1-1.2' (port 2 of hub 1-1) or '1-3'. */
  at: string;
  /** The driver set that binds it; null for a device that is not ours. */
  driverSet: string | null;
  /** Ports (default: one per UART, interface = UART index, slot = name or name.a/.b...). */
  ports?: LabPortSpec[];
  /** Kernel driver name the mock host reports bound at plug (default 'usb_mock'). */
  kernelDriver?: string;
  /** Whether the device reports its UARTs' input lines to the host (default true; its emulation profile says). */
  reportsInputLines?: boolean;
  description?: string;
}

export type LabWireSpec = { kind: 'loopback'; slot: string } | { kind: 'null-modem'; a: string; b: string };

export interface LabHubSpec {
  /** Its sysfs-style path, e.g. '1-1'. Dongles at '1-1.N' hang from its port N. */
  at: string;
  ports: number;
  /** wHubCharacteristics bits 1:0: per-port (01), ganged (00), none (10). */
  switching: 'per-port' | 'ganged' | 'none';
  idVendor?: number;
  idProduct?: number;
  product?: string;
}

export interface MockLabOptions<S extends LabDriverSet = LabDriverSet> {
  /** The driver sets the lab's dongles are for (what a stress run registers); [] for none. */
  driverSets: readonly S[];
  dongles?: LabDongleSpec[];
  wires?: LabWireSpec[];
  hubs?: LabHubSpec[];
  /** IDs a udev-like rule writes to new_id (dongles with custom IDs bind only through them). */
  newIds?: NewIdCandidate[];
  host?: MockUsbHostOptions;
  /** Pace the UARTs at their baud rates (default false: bytes cross as fast as FIFOs drain). */
  pacing?: boolean;
}

/** What a leak check reads of an emulated device. */
export interface DongleResources {
  plugged: boolean;
  opened: boolean;
  claimedInterfaces: number[];
  pendingTransfers: number;
}

export interface LabDongle {
  readonly name: string;
  readonly spec: LabDongleSpec;
  readonly device: MockUsbDevice;
  readonly uarts: readonly UartPort[];
  readonly ports: readonly LabPortSpec[];
  /** Cable in (plug/unplug); connected also needs power where it hangs from a hub. */
  cabled: boolean;
}

interface LabHub {
  readonly spec: LabHubSpec;
  readonly device: MockUsbDevice;
  /** Requested power per port (index 0 = port 1). */
  readonly requested: boolean[];
}

/**
 * A cable, as relays: each end's UART is wired to a relay UART of its own, and the relays pass
 * bytes and modem lines across. A powered UART that nobody reads then drops what it cannot hold,
 * as a real one does, instead of holding up the sender (the mock UART's own wires apply
 * backpressure across the line, which no cable without flow control does).
 */
interface LabWire {
  readonly spec: LabWireSpec;
  readonly slots: readonly string[];
  /** One relay per end, in `slots` order. */
  readonly relays: readonly UartPort[];
  /** The wire from each end's UART to its relay, while that end is powered. */
  readonly ends: (Wire | null)[];
  /** Bytes dropped because the receiving UART was not being read. */
  dropped: number;
}

/** Bytes a relay queues for a receiver that is not being read before it starts dropping. */
const RELAY_QUEUE = 64 * 1024;

const CHANNEL = 'abcdefgh';

// ---- the default bench -------------------------------------------------------------------

function ftdiDongle(name: string, chip: Parameters<typeof mockFtdi>[0], at: string, extra: { idVendor?: number; idProduct?: number; description?: string } = {}, pacing = false): LabDongleSpec {
  return {
    name,
    at,
    driverSet: 'ftdi_sio',
    kernelDriver: 'ftdi_sio',
    ...(extra.description ? { description: extra.description } : {}),
    create: () => {
      // A fixed serial number per dongle keeps names and uevents the same from run to run.
      const f = mockFtdi(chip, { serialNumber: `LAB${name.replace(/[^a-z0-9]/gi, '').toUpperCase()}`.slice(0, 16), pacing, ...extra, device: { transferLog: { limit: 0 } } });
      const uarts = Array.from({ length: f.chip.channels.length }, (_, i) => f.uart(i));
      return { device: f.device, uarts };
    },
  };
}

function pl2303Dongle(name: string, part: Parameters<typeof createPl2303>[0], at: string, extra: Partial<DeviceSpec> = {}, description?: string, pacing = false): LabDongleSpec {
  return {
    name,
    at,
    driverSet: 'pl2303',
    kernelDriver: 'pl2303',
    ...(description ? { description } : {}),
    create: () => {
      const p = createPl2303(part, { descriptor: extra, chip: { uart: { name, pacing } }, device: { transferLog: { limit: 0 } } });
      return { device: p.device, uarts: [p.chip.uart] };
    },
  };
}

function cp210xDongle(name: string, part: Parameters<typeof createCp210x>[0], at: string, description: string, pacing = false): LabDongleSpec {
  return { name, at, driverSet: 'cp210x', kernelDriver: 'cp210x', description, create: () => {
    const c = createCp210x(part, { descriptor: { serialNumber: `LAB${name.toUpperCase()}` }, chip: { uart: { pacing } }, device: { transferLog: { limit: 0 } } });
    return { device: c.device, uarts: c.chip.ports.map((p) => p.uart) };
  } };
}

/** A device that is not ours: a wireless-receiver-like HID device nobody here binds. */
function foreignDongle(name: string, at: string): LabDongleSpec {
  return {
    name,
    at,
    driverSet: null,
    description: 'HID receiver (not ours)',
    create: () => ({
      device: new MockUsbDevice(
        {
          idVendor: 0x046d,
          idProduct: 0xc52b,
          bcdUSB: 0x0200,
          manufacturer: 'Logitech',
          product: 'USB Receiver',
          configurations: [{ interfaces: [{ bInterfaceClass: 0x03, bInterfaceSubClass: 1, bInterfaceProtocol: 1, endpoints: [{ bEndpointAddress: 0x81, type: 'interrupt', wMaxPacketSize: 8 }] }] }],
        },
        {},
        { transferLog: { limit: 0 } },
      ),
      uarts: [],
    }),
  };
}

/** The bench `createMockLab()` builds when given no dongles. */
export function defaultLabOptions(pacing = false): Required<Pick<MockLabOptions, 'dongles' | 'wires' | 'hubs' | 'newIds'>> {
  return {
    hubs: [
      { at: '1-1', ports: 7, switching: 'per-port', idVendor: 0x2001, idProduct: 0xf103, product: 'DUB-H7 7-port hub (per-port power)' },
      { at: '2-1', ports: 4, switching: 'ganged', idVendor: 0x05e3, idProduct: 0x0608, product: 'USB2.0 Hub (ganged power)' },
    ],
    dongles: [
      ftdiDongle('ft232r', 'FT232R', '1-1.1', { description: 'FT232R with a loopback plug' }, pacing),
      ftdiDongle('ft2232h', 'FT2232H', '1-1.2', { description: 'FT2232H, channel A null-modem to channel B' }, pacing),
      pl2303Dongle('pl2303hx', 'PL2303HX', '1-1.3', {}, 'PL2303HX null-modem to the FT232H', pacing),
      ftdiDongle('ft232h', 'FT232H', '1-1.4', { description: 'FT232H null-modem to the PL2303HX' }, pacing),
      foreignDongle('receiver', '1-1.5'),
      pl2303Dongle('pl2303gc', 'PL2303GC', '2-1.1', {}, 'PL2303GC (HXN) with a loopback plug', pacing),
      ftdiDongle('custom-ftdi', 'FT232R', '1-2', { idVendor: 0x1209, idProduct: 0x7a01, description: 'FT232R board with its own ID (binds through new_id)' }, pacing),
      pl2303Dongle('custom-pl2303', 'PL2303HX', '1-3', { idVendor: 0x1209, idProduct: 0x7a02, serialNumber: 'LABCUSTOMPL' }, 'PL2303HX board with its own ID (binds through new_id)', pacing),
      cp210xDongle('cp2102', 'CP2102', '2-1.2', 'CP2102 with a loopback plug', pacing),
      cp210xDongle('cp2105', 'CP2105', '2-1.3', 'CP2105, ECI null-modem to SCI', pacing),
      { name: 'ch340', at: '2-1.4', driverSet: 'ch341', kernelDriver: 'ch341', description: 'CH340 (version 0x31) with a loopback plug', create: () => {
        const c = createCh34x('CH340', { chip: { uart: { name: 'ch340', pacing } }, device: { transferLog: { limit: 0 } } });
        return { device: c.device, uarts: [c.chip.uart] };
      } },
      { name: 'uno', at: '1-5', driverSet: 'cdc_acm', kernelDriver: 'cdc_acm', description: 'Arduino Uno (CDC-ACM) with a loopback plug', reportsInputLines: cdcAcmBoardInfo('uno').serialState, create: () => {
        const a = createCdcAcm('uno', { chip: { uart: { name: 'uno', pacing } }, device: { transferLog: { limit: 0 } } });
        return { device: a.device, uarts: [a.chip.uart] };
      } },
    ],
    wires: [
      { kind: 'loopback', slot: 'ft232r' },
      { kind: 'null-modem', a: 'ft2232h.a', b: 'ft2232h.b' },
      { kind: 'null-modem', a: 'pl2303hx', b: 'ft232h' },
      { kind: 'loopback', slot: 'pl2303gc' },
      { kind: 'loopback', slot: 'custom-ftdi' },
      { kind: 'loopback', slot: 'custom-pl2303' },
      { kind: 'loopback', slot: 'cp2102' },
      { kind: 'null-modem', a: 'cp2105.a', b: 'cp2105.b' },
      { kind: 'loopback', slot: 'ch340' },
      { kind: 'loopback', slot: 'uno' },
    ],
    newIds: [
      { driver: 'ftdi_sio', id: '1209 7a01' },
      { driver: 'pl2303', id: '1209 7a02' },
    ],
  };
}

// ---- a scaled bench ------------------------------------------------------------------------

export interface ScaledLabShape {
  /** Lab hosts, each its own USB bus here (bus N = host N), as a USB/IP importer sees them. */
  hosts: number;
  /** Hubs per host, each on a root port of its bus (default 4). */
  hubsPerHost?: number;
  /** Dongles per hub, one per port (default 7: the common 7-port hub). */
  donglesPerHub?: number;
  pacing?: boolean;
}

/**
 * A bench of hosts x hubs x dongles for measuring how the harness grows: every hub has per-port
 * power switching, every dongle a loopback plug, FT232R and PL2303HX alternating (both drivers
 * busy). Dongle `h2.3.5` hangs from port 5 of hub `2-3` (bus 2, root port 3).
 */
export function scaledLabOptions(shape: ScaledLabShape): Required<Pick<MockLabOptions, 'dongles' | 'wires' | 'hubs' | 'newIds'>> {
  const hubsPerHost = shape.hubsPerHost ?? 4;
  const perHub = shape.donglesPerHub ?? 7;
  for (const [k, v, max] of [['hosts', shape.hosts, 127], ['hubsPerHost', hubsPerHost, 15], ['donglesPerHub', perHub, 15]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new MockLabError(`scaled lab: ${k} must be a whole number from 1 to ${max}, got ${v}`);
  }
  const hubs: LabHubSpec[] = [];
  const dongles: LabDongleSpec[] = [];
  const wires: LabWireSpec[] = [];
  for (let h = 1; h <= shape.hosts; h++) {
    for (let k = 1; k <= hubsPerHost; k++) {
      hubs.push({ at: `${h}-${k}`, ports: perHub, switching: 'per-port', product: `host ${h} hub ${k} (per-port power)` });
      for (let p = 1; p <= perHub; p++) {
        const name = `h${h}.${k}.${p}`;
        const at = `${h}-${k}.${p}`;
        dongles.push(
          (h + k + p) % 2 === 0
            ? ftdiDongle(name, 'FT232R', at, { description: 'FT232R with a loopback plug' }, shape.pacing ?? false)
            : pl2303Dongle(name, 'PL2303HX', at, { serialNumber: `LAB${h}X${k}X${p}` }, 'PL2303HX with a loopback plug', shape.pacing ?? false),
        );
        wires.push({ kind: 'loopback', slot: name });
      }
    }
  }
  return { hubs, dongles, wires, newIds: [] };
}

/** The scaled bench as a lab, for the driver sets given (they must include ftdi_sio and pl2303). */
export function createScaledLab<S extends LabDriverSet>(driverSets: readonly S[], shape: ScaledLabShape): MockLab<S> {
  return new MockLab({ driverSets, ...scaledLabOptions(shape), ...(shape.pacing !== undefined ? { pacing: shape.pacing } : {}) });
}

// ---- emulated hubs -------------------------------------------------------------------------

const HUB_REQ = { GET_STATUS: 0x00, CLEAR_FEATURE: 0x01, SET_FEATURE: 0x03, GET_DESCRIPTOR: 0x06 } as const;
const PORT_POWER = 8;

/** The hub side of SET/CLEAR_FEATURE PORT_POWER and the hub descriptor (USB 2.0 11.23, 11.24). */
class HubChip implements MockBehaviour {
  constructor(
    private readonly spec: LabHubSpec,
    private readonly lab: MockLab,
  ) {}

  onControl(s: ControlSetup, _data: Uint8Array | undefined, _ctx: MockDeviceContext): Uint8Array | 'ack' | 'stall' | undefined {
    if (s.requestType !== 'class') return undefined;
    const n = this.spec.ports;
    if (s.recipient === 'device' && s.bRequest === HUB_REQ.GET_DESCRIPTOR && s.wValue >> 8 === 0x29) {
      const lpsm = this.spec.switching === 'per-port' ? 0x01 : this.spec.switching === 'ganged' ? 0x00 : 0x02;
      const bitmapBytes = Math.ceil((n + 1) / 8);
      const d = [7 + 2 * bitmapBytes, 0x29, n, lpsm | 0x08 /* per-port over-current */, 0x00, 50 /* 100 ms */, 100];
      for (let i = 0; i < bitmapBytes; i++) d.push(0x00); // DeviceRemovable: all removable
      for (let i = 0; i < bitmapBytes; i++) d.push(0xff); // PortPwrCtrlMask (USB 1.1 legacy)
      return Uint8Array.from(d);
    }
    if (s.recipient === 'device' && s.bRequest === HUB_REQ.GET_STATUS) return new Uint8Array(4);
    if (s.recipient !== 'other') return 'stall';
    const port = s.wIndex & 0xff;
    if (port < 1 || port > n) return 'stall';
    if (s.bRequest === HUB_REQ.GET_STATUS) {
      const connected = this.lab.connectedAt(`${this.spec.at}.${port}`);
      const powered = this.lab.portPowered(this.spec.at, port);
      const status = (connected ? 0x0001 | 0x0002 : 0) | (powered ? 0x0100 : 0);
      return Uint8Array.from([status & 0xff, status >> 8, 0, 0]);
    }
    if ((s.bRequest === HUB_REQ.SET_FEATURE || s.bRequest === HUB_REQ.CLEAR_FEATURE) && s.wValue === PORT_POWER) {
      this.lab.requestPortPower(this.spec.at, port, s.bRequest === HUB_REQ.SET_FEATURE);
      return 'ack';
    }
    // Other port features (reset, suspend, indicators) are accepted and do nothing here.
    if (s.bRequest === HUB_REQ.SET_FEATURE || s.bRequest === HUB_REQ.CLEAR_FEATURE) return 'ack';
    return 'stall';
  }
}

// ---- the lab -------------------------------------------------------------------------------

export class MockLab<S extends LabDriverSet = LabDriverSet> {
  /** The host the dongles plug into: the backend to attach a UsbSubsystem to. */
  readonly host: MockUsbHost;
  /** The hubs live on a host of their own (the mock host keeps one device per port path). */
  readonly hubHost: MockUsbHost;
  readonly driverSets: readonly S[];
  readonly newIds: readonly NewIdCandidate[];
  /** Whether the default bench's UARTs run at their baud rates (dongles given in `dongles` pace as their specs say). */
  readonly pacing: boolean;
  private readonly dongleMap = new Map<string, LabDongle>();
  private readonly byDevice = new Map<MockUsbDevice, string>();
  private readonly slotMap = new Map<string, { dongle: LabDongle; port: LabPortSpec }>();
  private readonly hubMap = new Map<string, LabHub>();
  private readonly wireList: LabWire[] = [];

  constructor(options: MockLabOptions<S>) {
    const defaults = options.dongles ? null : defaultLabOptions(options.pacing ?? false);
    const dongles = options.dongles ?? defaults!.dongles;
    const wires = options.wires ?? defaults?.wires ?? [];
    const hubs = options.hubs ?? defaults?.hubs ?? [];
    this.newIds = options.newIds ?? defaults?.newIds ?? [];
    this.driverSets = options.driverSets;
    this.pacing = options.pacing ?? false;
    const setNames = new Set(this.driverSets.map((d) => d.name));
    for (const d of dongles) {
      if (d.driverSet !== null && !setNames.has(d.driverSet)) throw new MockLabError(`dongle '${d.name}' is for driver set '${d.driverSet}', which this lab was not given (driver sets: ${[...setNames].join(', ') || 'none'})`);
    }
    this.host = new MockUsbHost(options.host);
    this.hubHost = new MockUsbHost({ keyPrefix: 'mockhub', kernelDriver: { name: 'hub' } });
    for (const h of hubs) {
      if (this.hubMap.has(h.at)) throw new MockLabError(`two hubs at ${h.at}`);
      const hub: LabHub = { spec: h, device: hubDevice(h, this), requested: Array.from({ length: h.ports }, () => true) };
      this.hubMap.set(h.at, hub);
      this.hubHost.plug(hub.device, h.at);
    }
    for (const spec of dongles) {
      if (this.dongleMap.has(spec.name)) throw new MockLabError(`two dongles named '${spec.name}'`);
      const { device, uarts } = spec.create();
      const ports =
        spec.ports ??
        uarts.map((_, i) => ({ slot: uarts.length === 1 ? spec.name : `${spec.name}.${CHANNEL[i]}`, interfaceNumber: i, portNumber: 0, uart: i }));
      const d: LabDongle = { name: spec.name, spec, device, uarts, ports, cabled: false };
      this.dongleMap.set(spec.name, d);
      this.byDevice.set(device, spec.name);
      for (const p of ports) {
        if (this.slotMap.has(p.slot)) throw new MockLabError(`two ports named '${p.slot}'`);
        if (!uarts[p.uart]) throw new MockLabError(`port ${p.slot}: dongle ${spec.name} has no UART ${p.uart}`);
        this.slotMap.set(p.slot, { dongle: d, port: p });
      }
    }
    for (const w of wires) {
      const slots = w.kind === 'loopback' ? [w.slot] : [w.a, w.b];
      for (const s of slots) if (!this.slotMap.has(s)) throw new MockLabError(`wire to unknown port '${s}'`);
      if (this.wireList.some((x) => x.slots.some((s) => slots.includes(s)))) throw new MockLabError(`port ${slots.join('/')} is on two wires`);
      const wire = makeWire(w, slots);
      slots.forEach((slot, i) => this.follow(this.uart(slot), wire.relays[i]!));
      this.wireList.push(wire);
    }
  }

  get backend(): HostBackend {
    return this.host;
  }

  /** Backends whose devices include the hubs and everything behind them (for hub control). */
  get hubBackends(): HostBackend[] {
    return [this.hubHost, this.host];
  }

  // ---- by name ----

  dongles(): string[] {
    return [...this.dongleMap.keys()];
  }

  dongle(name: string): LabDongle {
    const d = this.dongleMap.get(name);
    if (!d) throw new MockLabError(`no dongle '${name}' in this lab; dongles: ${this.dongles().join(', ')}`);
    return d;
  }

  /** Puts the cable in. Behind an unpowered hub port the dongle connects once power comes back. */
  plug(name: string): void {
    const d = this.dongle(name);
    d.cabled = true;
    this.apply(d);
  }

  unplug(name: string): void {
    const d = this.dongle(name);
    d.cabled = false;
    this.apply(d);
  }

  /** Connected to the host right now. */
  isPlugged(name: string): boolean {
    return this.dongle(name).device.plugged;
  }

  plugAll(): void {
    for (const d of this.dongleMap.values()) {
      d.cabled = true;
      this.apply(d);
    }
  }

  unplugAll(): void {
    for (const d of this.dongleMap.values()) {
      d.cabled = false;
      this.apply(d);
    }
  }

  /** Waits until plug/unplug events so far were delivered. */
  async flush(): Promise<void> {
    await this.host.flush();
    await this.hubHost.flush();
  }

  async close(): Promise<void> {
    this.unplugAll();
    await this.flush();
    for (const w of this.wireList) for (const e of w.ends) e?.detach();
    await this.host.close();
    await this.hubHost.close();
  }

  /** The dongle a host device is an attachment of. */
  dongleOf(host: HostDevice): string | undefined {
    return this.byDevice.get(host.usb as MockUsbDevice);
  }

  resources(name: string): DongleResources {
    return this.dongle(name).device.resources();
  }

  /** The UART of a port slot (for tests that play the far end). */
  uart(slot: string): UartPort {
    const s = this.slotMap.get(slot);
    if (!s) throw new MockLabError(`no port '${slot}' in this lab`);
    return s.dongle.uarts[s.port.uart]!;
  }

  // ---- hubs ----

  hubs(): string[] {
    return [...this.hubMap.keys()];
  }

  /** Whether a hub port has power (ganged hubs: any port asked for it; no switching: always). */
  portPowered(hubAt: string, port: number): boolean {
    const hub = this.hubMap.get(hubAt);
    if (!hub) return true;
    if (hub.spec.switching === 'none') return true;
    if (hub.spec.switching === 'ganged') return hub.requested.some(Boolean);
    return hub.requested[port - 1] ?? false;
  }

  /** @internal what the emulated hub does with SET/CLEAR_FEATURE PORT_POWER. */
  requestPortPower(hubAt: string, port: number, on: boolean): void {
    const hub = this.hubMap.get(hubAt);
    if (!hub || port < 1 || port > hub.spec.ports) throw new MockLabError(`no port ${port} on hub ${hubAt}`);
    hub.requested[port - 1] = on;
    for (const d of this.dongleMap.values()) if (parentOf(d.spec.at)?.hub === hubAt) this.apply(d);
  }

  /** @internal */
  connectedAt(path: string): boolean {
    for (const d of this.dongleMap.values()) if (d.spec.at === path) return d.device.plugged;
    return false;
  }

  // ---- for the stress harness ----

  /** The lab by name: dongles, ports, wires, driver sets, new_id candidates (our dongles only). */
  topology(): Topology {
    const dongles: TopologyDongle[] = [...this.dongleMap.values()]
      .filter((d) => d.spec.driverSet !== null)
      .map((d) => ({
        name: d.name,
        interfaces: [...new Set(d.ports.map((p) => p.interfaceNumber))],
        ports: d.ports.map((p) => ({ slot: p.slot, dongle: d.name, interfaceNumber: p.interfaceNumber, portNumber: p.portNumber ?? 0, ...(d.spec.reportsInputLines === false ? { reportsInputLines: false } : {}) })),
        hotplug: true,
        driverSet: d.spec.driverSet!,
      }));
    const links: TopologyLink[] = this.wireList.flatMap((w): TopologyLink[] =>
      w.spec.kind === 'loopback'
        ? [{ id: `${w.spec.slot}>${w.spec.slot}`, from: w.spec.slot, to: w.spec.slot, kind: 'loopback' as const }]
        : [
            { id: `${w.spec.a}>${w.spec.b}`, from: w.spec.a, to: w.spec.b, kind: 'null-modem' as const },
            { id: `${w.spec.b}>${w.spec.a}`, from: w.spec.b, to: w.spec.a, kind: 'null-modem' as const },
          ],
    );
    return {
      dongles,
      links,
      driverSets: this.driverSets.map((s) => ({ name: s.name, serialDrivers: s.specs.map((x) => x.name) })),
      newIds: this.newIds,
    };
  }

  /** Dongles behind the hub port at `path` (for power cycling by dongle name). */
  hubPortOf(name: string): { hub: string; port: number } | null {
    const p = parentOf(this.dongle(name).spec.at);
    return p && this.hubMap.has(p.hub) ? p : null;
  }

  // ---- internals ----

  private apply(d: LabDongle): void {
    const parent = parentOf(d.spec.at);
    const powered = !parent || this.portPowered(parent.hub, parent.port);
    const want = d.cabled && powered;
    if (want && !d.device.plugged) {
      this.host.plug(d.device, d.spec.at, { kernelDriver: { name: d.spec.kernelDriver ?? 'usb_mock' } });
    } else if (!want && d.device.plugged) {
      this.host.unplug(d.device);
    }
    this.rewire();
  }

  /**
   * A relay runs at its end's line settings, so bytes between them cross clean (the chip
   * emulations set their UART's settings when the driver does: follow every change). Settings
   * that differ between the two ends of a cable therefore do not garble bytes here.
   */
  private follow(uart: UartPort, relay: UartPort): void {
    const set = uart.setSettings.bind(uart);
    uart.setSettings = (next) => {
      set(next);
      relay.setSettings(uart.settings);
    };
    relay.setSettings(uart.settings);
  }

  /** Each end of a cable is connected while its dongle is powered. */
  private rewire(): void {
    for (const w of this.wireList) {
      w.slots.forEach((slot, i) => {
        const end = this.slotMap.get(slot)!;
        const up = end.dongle.device.plugged;
        const live = w.ends[i];
        if (up && !live) w.ends[i] = nullModem(end.dongle.uarts[end.port.uart]!, w.relays[i]!);
        else if (!up && live) {
          live.detach();
          w.ends[i] = null;
        }
      });
    }
  }

  /** Whether bytes written on `slot` can reach the other end of its cable now (every end powered). */
  wireCarries(slot: string): boolean {
    const w = this.wireList.find((x) => x.slots.includes(slot));
    return Boolean(w && w.ends.every((e) => e !== null));
  }

  /** Bytes the cables dropped because nobody read the receiving UART. */
  get droppedBytes(): number {
    return this.wireList.reduce((n, w) => n + w.dropped, 0);
  }
}

/** The relays of one cable: bytes and lines across, loopback or crossed. */
function makeWire(spec: LabWireSpec, slots: readonly string[]): LabWire {
  const relays = slots.map((s) => new UartPort({ name: `cable:${s}`, rxFifoSize: 4096 }));
  const w: LabWire = { spec, slots, relays, ends: slots.map(() => null), dropped: 0 };
  // Loopback: what comes in goes back out of the same relay; null modem: out of the other one.
  const peer = (i: number) => relays[spec.kind === 'loopback' ? i : 1 - i]!;
  relays.forEach((r, i) => {
    // Bytes and the break line state leave the peer relay in the order they arrived: a break is
    // passed on as the line held low (the far end's UART then stores its own NUL with the break
    // flag), not as the NUL this relay's UART stored for it.
    let order: Promise<unknown> = Promise.resolve();
    r.onRx(() => {
      const chunk = r.read();
      const out = peer(i);
      const breaks = new Set(chunk.errors.filter((e) => e.kind === 'break').map((e) => e.offset));
      const data = breaks.size === 0 ? chunk.data : chunk.data.filter((_, k) => !breaks.has(k));
      if (data.length === 0) return;
      if (out.txPending + data.length > RELAY_QUEUE) {
        w.dropped += data.length;
        return;
      }
      order = out.write(data);
    });
    r.onBreakChange((on) => {
      const out = peer(i);
      order = order.catch(() => undefined).then(() => out.setOutputs({ brk: on }));
    });
    // The end's RTS arrives as the relay's CTS, DTR as DSR: drive them out of the peer relay,
    // where the other end sees RTS as CTS and DTR as DSR and DCD.
    r.onInputsChange((inputs) => peer(i).setOutputs({ rts: inputs.cts, dtr: inputs.dsr }));
  });
  return w;
}

function parentOf(at: string): { hub: string; port: number } | null {
  const m = /^(\d+-[\d.]+)\.(\d+)$/.exec(at);
  return m ? { hub: m[1]!, port: Number(m[2]) } : null;
}

function hubDevice(h: LabHubSpec, lab: MockLab): MockUsbDevice {
  return new MockUsbDevice(
    {
      idVendor: h.idVendor ?? 0x2001,
      idProduct: h.idProduct ?? 0xf103,
      bcdUSB: 0x0200,
      bDeviceClass: 0x09,
      bDeviceSubClass: 0,
      bDeviceProtocol: 1,
      bcdDevice: 0x0100,
      product: h.product ?? 'Emulated hub',
      configurations: [
        {
          bmAttributes: 0xe0,
          interfaces: [{ bInterfaceClass: 0x09, endpoints: [{ bEndpointAddress: 0x81, type: 'interrupt', wMaxPacketSize: 1, bInterval: 12 }] }],
        },
      ],
    },
    new HubChip(h, lab),
    { transferLog: { limit: 0 } },
  );
}

/** The built-in mock lab (or one made of the dongles, wires and hubs given) for the driver sets given. */
export function createMockLab<S extends LabDriverSet>(options: MockLabOptions<S>): MockLab<S> {
  return new MockLab(options);
}
