// Where a run happens: the mock lab (dongles plugged and unplugged by name, or through the lab's
// emulated hub port power), or a real lab (dongles behind hubs with per-port power switching,
// cycled by the hub class request). The runner sees one interface either way.
import { childLog } from '../log.ts';
import type { UsbSerialDriverSet } from '../serial/driver-set.ts';
import type { SerialDriverSpec, UsbSerialPort } from '../serial/index.ts';
import type { HostBackend, HostDevice } from '../usb/host.ts';
import type { UsbDeviceId } from '../usb/ids.ts';
import { ForeignDeviceError, HubControl, HubError, type HubInfo, type PortPowerMethod } from './hubs.ts';
import { StressOptionError, type NewIdCandidate, type Topology, type TopologyDongle, type TopologyLink } from './schedule.ts';
import { discoverWiring } from './wiring.ts';

const log = childLog('stress.target');

/** What the stress harness registers and churns: usb-serial driver sets. */
export type StressDriverSet = UsbSerialDriverSet;

/** What a leak check reads of an emulated device. */
export interface DongleResources {
  plugged: boolean;
  opened: boolean;
  claimedInterfaces: number[];
  pendingTransfers: number;
}

/** What runStress needs of a mock lab; mocks/lab.ts (createMockLab) provides it. */
export interface StressLab {
  readonly backend: HostBackend;
  readonly driverSets: readonly StressDriverSet[];
  topology(): Topology;
  plug(name: string): void;
  unplug(name: string): void;
  isPlugged(name: string): boolean;
  plugAll(): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  dongleOf(host: HostDevice): string | undefined;
  resources(name: string): DongleResources;
  /** Backends listing the lab's emulated hubs and what hangs from them (power mode). */
  readonly hubBackends?: readonly HostBackend[];
  /** The hub port a dongle hangs from, if any (power mode). */
  hubPortOf?(name: string): { hub: string; port: number } | null;
}

/** The live side the target needs once drivers are registered and devices enumerated. */
export interface LiveView {
  /** usb-serial ports now, with their usb device's host device. */
  ports(): UsbSerialPort[];
}

export interface Target {
  readonly kind: 'mock' | 'hubs' | 'usbip';
  readonly backend: HostBackend;
  readonly driverSets: readonly StressDriverSet[];
  /** Once: what the schedule may touch (after drivers are registered and devices are up). */
  describe(live: LiveView): Promise<Topology>;
  /** Plug / power on (true) or unplug / power off (false). */
  setConnected(dongle: string, on: boolean): Promise<string>;
  /** Whether we have it connected (or powered) now. */
  isConnected(dongle: string): boolean;
  dongleOf(host: HostDevice): string | undefined;
  /** Whether that attachment is gone (unplugged), whatever the backend has reported yet. */
  hostGone(host: HostDevice): boolean;
  /** The emulated device's resources (mock only). */
  resources(dongle: string): DongleResources | undefined;
  flush(): Promise<void>;
  /** Puts everything back: every dongle connected (real hubs: every port we cut powered again). */
  restore(): Promise<void>;
  /** Disconnects everything (mock only; a real lab stays powered). */
  disconnectAll(): Promise<void>;
  close(): Promise<void>;
  /** Power switches so far by how they were made (power mode and real hubs). */
  powerMethods?(): Partial<Record<PortPowerMethod, number>>;
}

function countMethod(counts: Partial<Record<PortPowerMethod, number>>, m: PortPowerMethod): void {
  counts[m] = (counts[m] ?? 0) + 1;
}

/** Whether a host device is one of ours: matched by vendor and product in a driver set's table or a new_id candidate. */
export function ourDevicePredicate(sets: readonly StressDriverSet[], newIds: readonly NewIdCandidate[]): (host: HostDevice) => boolean {
  const keys = new Set<string>();
  for (const s of sets) for (const id of s.ids) if (id.vendor !== undefined && id.product !== undefined) keys.add(`${id.vendor}:${id.product}`);
  for (const c of newIds) {
    const [v, p] = c.id.split(/\s+/).map((x) => Number.parseInt(x, 16));
    if (Number.isFinite(v) && Number.isFinite(p)) keys.add(`${v}:${p}`);
  }
  // Class entries (cdc_acm's 2/2/0-6) make a device ours when one of its interfaces matches.
  const classIds = sets.flatMap((s) => s.ids.filter((id) => id.vendor === undefined && id.interfaceClass !== undefined));
  const classMatch = (host: HostDevice) =>
    host.usb.deviceClass !== 0xff &&
    (host.usb.configuration ?? host.usb.configurations[0])?.interfaces.some((i) => {
      const a = i.alternate ?? i.alternates[0];
      return a && classIds.some((id) => id.interfaceClass === a.interfaceClass && (id.interfaceSubclass ?? a.interfaceSubclass) === a.interfaceSubclass && (id.interfaceProtocol ?? a.interfaceProtocol) === a.interfaceProtocol);
    });
  return (host) => keys.has(`${host.usb.vendorId}:${host.usb.productId}`) || (classIds.length > 0 && Boolean(classMatch(host)));
}

// ---- the mock lab --------------------------------------------------------------------------

export class MockTarget implements Target {
  readonly kind = 'mock' as const;
  private hubs: HubControl | null = null;
  private hubInfo = new Map<string, HubInfo>();
  private powered = new Map<string, boolean>();
  private readonly methods: Partial<Record<PortPowerMethod, number>> = {};

  constructor(
    readonly lab: StressLab,
    private readonly mode: 'plug' | 'power',
  ) {}

  get backend(): HostBackend {
    return this.lab.backend;
  }

  get driverSets(): readonly StressDriverSet[] {
    return this.lab.driverSets;
  }

  async describe(): Promise<Topology> {
    const topo = this.lab.topology();
    if (this.mode === 'plug') return topo;
    if (!this.lab.hubBackends || !this.lab.hubPortOf) throw new StressOptionError('this lab has no hubs: power mode needs hubBackends and hubPortOf');
    const ours = new Set(topo.dongles.map((d) => d.name));
    this.hubs = new HubControl(this.lab.hubBackends, { isOurs: (h) => ours.has(this.lab.dongleOf(h) ?? ''), sysfsRoot: '' });
    for (const h of await this.hubs.listHubs()) this.hubInfo.set(h.name, h);
    const dongles: TopologyDongle[] = topo.dongles.map((d) => {
      const at = this.lab.hubPortOf!(d.name);
      const hub = at ? this.hubInfo.get(at.hub) : undefined;
      const port = hub?.ports.find((p) => p.port === at!.port);
      const switchable = Boolean(hub?.switchable && port?.allOurs);
      if (switchable) this.powered.set(d.name, true);
      return { ...d, hotplug: switchable };
    });
    return { ...topo, dongles };
  }

  async setConnected(dongle: string, on: boolean): Promise<string> {
    if (this.mode === 'plug') {
      if (this.lab.isPlugged(dongle) === on) return `skip:already-${on ? 'plugged' : 'unplugged'}`;
      if (on) this.lab.plug(dongle);
      else this.lab.unplug(dongle);
      return 'ok';
    }
    const at = this.lab.hubPortOf?.(dongle);
    const hub = at ? this.hubInfo.get(at.hub) : undefined;
    if (!at || !hub || !this.powered.has(dongle)) return 'skip:not-switchable';
    if (this.powered.get(dongle) === on) return `skip:already-${on ? 'on' : 'off'}`;
    this.powered.set(dongle, on);
    countMethod(this.methods, await this.hubs!.sendPower(hub.host, at.port, on));
    return 'ok';
  }

  powerMethods(): Partial<Record<PortPowerMethod, number>> {
    return { ...this.methods };
  }

  isConnected(dongle: string): boolean {
    if (this.mode === 'power' && this.powered.has(dongle)) return this.powered.get(dongle)! && this.lab.isPlugged(dongle);
    return this.lab.isPlugged(dongle);
  }

  dongleOf(host: HostDevice): string | undefined {
    return this.lab.dongleOf(host);
  }

  hostGone(host: HostDevice): boolean {
    // A mock attachment knows at once; the hotplug event that says so comes a turn later.
    return (host as { attached?: boolean }).attached === false;
  }

  resources(dongle: string): DongleResources | undefined {
    return this.lab.resources(dongle);
  }

  flush(): Promise<void> {
    return this.lab.flush();
  }

  async restore(): Promise<void> {
    for (const [d, on] of this.powered) if (!on) await this.setConnected(d, true);
    for (const d of this.lab.topology().dongles) if (!this.lab.isPlugged(d.name)) this.lab.plug(d.name);
  }

  async disconnectAll(): Promise<void> {
    for (const d of this.lab.topology().dongles) if (this.lab.isPlugged(d.name)) this.lab.unplug(d.name);
  }

  close(): Promise<void> {
    return this.lab.close();
  }
}

// ---- a real lab ----------------------------------------------------------------------------

export interface HubTargetOptions {
  backend: HostBackend;
  driverSets: readonly StressDriverSet[];
  newIds?: readonly NewIdCandidate[];
  /** Also cycle ports with devices that are not ours. */
  force?: boolean;
  /** Only these dongles (port paths), if given. */
  only?: readonly string[];
  /** Wires, if known; otherwise found by sending a token out of every port. */
  links?: readonly TopologyLink[];
  baudRate?: number;
  sysfsRoot?: string;
}

/** How long a quiescent point waits for powered ports' devices to come back (or go): well under the runner's settle limit (10 s). */
const ENUMERATE_LIMIT_MS = 5_000;

/** A real lab: our dongles behind hubs with per-port power switching, named by their port path. */
export class HubTarget implements Target {
  readonly kind = 'hubs' as const;
  readonly hubs: HubControl;
  private readonly dongles = new Map<string, { hub: HubInfo; port: number; powered: boolean }>();
  private readonly isOurs: (h: HostDevice) => boolean;
  private readonly methods: Partial<Record<PortPowerMethod, number>> = {};
  /**
   * Per dongle, the attachments (device keys) the backend reported connected and not yet
   * disconnected. Per attachment, not per dongle: a detach may come after the same port's next
   * attach (udev ordering on a real kernel).
   */
  private readonly present = new Map<string, Set<string>>();
  private unwatch: (() => void) | undefined;

  constructor(private readonly o: HubTargetOptions) {
    this.isOurs = ourDevicePredicate(o.driverSets, o.newIds ?? []);
    this.hubs = new HubControl([o.backend], { isOurs: this.isOurs, ...(o.sysfsRoot !== undefined ? { sysfsRoot: o.sysfsRoot } : {}) });
  }

  get backend(): HostBackend {
    return this.o.backend;
  }

  get driverSets(): readonly StressDriverSet[] {
    return this.o.driverSets;
  }

  async describe(live: LiveView): Promise<Topology> {
    const seen = (d: HostDevice, on: boolean) => {
      const name = this.dongleOf(d);
      if (!name) return;
      const keys = this.present.get(name) ?? new Set<string>();
      if (on) keys.add(d.key);
      else keys.delete(d.key);
      this.present.set(name, keys);
    };
    this.unwatch ??= await this.o.backend.watch((e) => seen(e.device, e.type === 'connect'));
    for (const d of await this.o.backend.getDevices()) seen(d, true);
    const hubs = await this.hubs.listHubs();
    for (const hub of hubs) {
      if (!hub.switchable) continue;
      for (const p of hub.ports) {
        const mine = p.devices.filter((d) => d.ours && (!this.o.only || this.o.only.includes(d.path)));
        if (mine.length === 0) continue;
        if (!p.allOurs && !this.o.force) {
          log.warn({ hub: hub.name, port: p.port }, 'port has a device that is not ours: not cycled (use --force)');
          continue;
        }
        for (const d of mine) this.dongles.set(d.path, { hub, port: p.port, powered: true });
      }
    }
    const byDongle = new Map<string, { slot: string; dongle: string; interfaceNumber: number; portNumber: number; port: UsbSerialPort }[]>();
    for (const port of live.ports()) {
      const name = this.dongleOf(port.serial.usbDevice.host);
      if (!name) continue;
      const list = byDongle.get(name) ?? [];
      const slot = `${name}:${port.serial.intf.interfaceNumber}.${port.portNumber}`;
      list.push({ slot, dongle: name, interfaceNumber: port.serial.intf.interfaceNumber, portNumber: port.portNumber, port });
      byDongle.set(name, list);
    }
    const dongles: TopologyDongle[] = [...byDongle.entries()].map(([name, ports]) => ({
      name,
      interfaces: [...new Set(ports.map((p) => p.interfaceNumber))],
      ports: ports.map(({ port: _p, ...rest }) => rest),
      hotplug: this.dongles.has(name),
    }));
    const links =
      this.o.links ??
      (await discoverWiring(
        [...byDongle.values()].flat().map((p) => ({ slot: p.slot, port: p.port })),
        { baudRate: this.o.baudRate ?? 115200 },
      ));
    return {
      dongles,
      links,
      driverSets: this.o.driverSets.map((s) => ({ name: s.name, serialDrivers: s.specs.map((x) => x.name) })),
      newIds: this.o.newIds ?? [],
    };
  }

  async setConnected(dongle: string, on: boolean): Promise<string> {
    const d = this.dongles.get(dongle);
    if (!d) return 'skip:not-switchable';
    if (d.powered === on) return `skip:already-${on ? 'on' : 'off'}`;
    try {
      this.hubs.checkSwitchable(d.hub, d.port, this.o.force ?? false, on);
    } catch (err) {
      if (err instanceof ForeignDeviceError || err instanceof HubError) return `skip:${err.name}`;
      throw err;
    }
    d.powered = on;
    countMethod(this.methods, await this.hubs.sendPower(d.hub.host, d.port, on));
    return 'ok';
  }

  powerMethods(): Partial<Record<PortPowerMethod, number>> {
    return { ...this.methods };
  }

  isConnected(dongle: string): boolean {
    return this.dongles.get(dongle)?.powered ?? true;
  }

  dongleOf(host: HostDevice): string | undefined {
    const loc = host.location;
    if (!loc || !this.isOurs(host)) return undefined;
    return `${loc.busNumber}-${loc.portNumbers.join('.')}`;
  }

  hostGone(host: HostDevice): boolean {
    // Backends that know (the mock host) say so at once; the others through UsbDevice.gone.
    return (host as { attached?: boolean }).attached === false;
  }

  resources(): undefined {
    return undefined;
  }

  /**
   * A real kernel enumerates a powered port's device hundreds of ms later (and the backend may
   * report it later still): until every port's device is there or gone as its power says, a
   * probe may start under the checks of a quiescent point. Bounded: a device that never comes
   * back is for the checks to find.
   */
  async flush(): Promise<void> {
    const end = performance.now() + ENUMERATE_LIMIT_MS;
    const waiting = () => [...this.dongles].filter(([name, d]) => d.powered !== (this.present.get(name)?.size ?? 0) > 0).map(([name]) => name);
    while (waiting().length > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
    const late = waiting();
    if (late.length > 0) log.warn({ dongles: late, waitedMs: ENUMERATE_LIMIT_MS }, 'powered ports whose devices did not come back, or unpowered ones still there');
    await new Promise((r) => setTimeout(r, 10));
  }

  async restore(): Promise<void> {
    for (const [name, d] of this.dongles) {
      if (d.powered) continue;
      d.powered = true;
      await this.hubs
        .sendPower(d.hub.host, d.port, true)
        .then((m) => countMethod(this.methods, m))
        .catch((err: unknown) => log.error({ err, dongle: name }, 'could not power the port back on'));
    }
  }

  async disconnectAll(): Promise<void> {
    // A real lab is left powered.
  }

  async close(): Promise<void> {
    await this.restore();
    this.unwatch?.();
    this.unwatch = undefined;
    await this.o.backend.close();
  }
}
