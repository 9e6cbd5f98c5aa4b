// Hub port power, as uhubctl switches it on current kernels: the port's sysfs `disable` attribute
// where it exists and is writable (Linux 6.0+; the kernel's hub driver then keeps the port off),
// else the hub class request SET_FEATURE / CLEAR_FEATURE PORT_POWER (feature 8) to the 'other'
// recipient with wIndex = port (which Linux's hub driver undoes within seconds: a short power
// cycle rather than "off"). Either way the hub's interface is never claimed and the kernel's hub
// driver stays bound (usbfs takes other-recipient requests without a claim). Only hubs whose descriptor
// reports per-port power switching (wHubCharacteristics bits 1:0 = 01) really cut one port, and
// some of those still leave VBUS on. A hub is named by its bus/port path (as sysfs and uhubctl
// name it) and, where sysfs shows it, by udev's ID_PATH, which is what labgrid matches a
// switchable port by (plus the port index).
//
// It speaks WebUSB to the hub (controlTransferIn/Out on the opened device, no interface claimed),
// so it works through any HostBackend: libusb on a real lab, the mock lab's emulated hubs in CI.
import { childLog } from '../log.ts';
import { hubPortDisablePath, readSysfsStringAsync, writeHubPortDisable } from '../usb/backends/linux-sysfs.ts';
import { formatPortPath, type HostBackend, type HostDevice } from '../usb/host.ts';

const log = childLog('stress.hubs');

export const HUB_CLASS = 0x09;
export const PORT_POWER = 8;
const REQ = { GET_STATUS: 0x00, CLEAR_FEATURE: 0x01, SET_FEATURE: 0x03, GET_DESCRIPTOR: 0x06 } as const;
const HUB_DESCRIPTOR = 0x29;
const SS_HUB_DESCRIPTOR = 0x2a;

export type PowerSwitching = 'ganged' | 'per-port' | 'none';

/** How a port's power was switched: the port's sysfs `disable` attribute, or the hub class request. */
export type PortPowerMethod = 'sysfs-disable' | 'hub-request';

export interface HubDescriptor {
  readonly ports: number;
  readonly characteristics: number;
  readonly powerSwitching: PowerSwitching;
  /** Time from power on to power good, ms. */
  readonly powerOnToGoodMs: number;
  readonly superSpeed: boolean;
}

export class HubError extends Error {
  override readonly name = 'HubError';
}

/** Refused: the port has a device that is not one of ours (pass force to do it anyway). */
export class ForeignDeviceError extends HubError {
  constructor(
    readonly hub: string,
    readonly port: number,
    readonly devices: readonly string[],
  ) {
    super(`refusing to switch ${hub} port ${port}: ${devices.join(', ')} behind it is not one of ours (use --force to switch it anyway)`);
  }
}

/** Decodes a USB 2.0 (0x29) or SuperSpeed (0x2a) hub descriptor. */
export function parseHubDescriptor(bytes: DataView | Uint8Array): HubDescriptor {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 7 || (b[1] !== HUB_DESCRIPTOR && b[1] !== SS_HUB_DESCRIPTOR)) {
    throw new HubError(`not a hub descriptor (${b.length} bytes, type 0x${(b[1] ?? 0).toString(16)})`);
  }
  const characteristics = b[3]! | (b[4]! << 8);
  const lpsm = characteristics & 0x03;
  return {
    ports: b[2]!,
    characteristics,
    // 00: ganged, 01: per port, 1x: no switching (USB 1.x/2.0 hubs; 11 is reserved).
    powerSwitching: lpsm === 0 ? 'ganged' : lpsm === 1 ? 'per-port' : 'none',
    powerOnToGoodMs: b[5]! * 2,
    superSpeed: b[1] === SS_HUB_DESCRIPTOR,
  };
}

/** The hub a device hangs from and the port: `1-2.3` is port 3 of hub `1-2`; `1-4` is port 4 of root hub `usb1`. */
export function parentPort(path: string): { hub: string; port: number } | null {
  const m = /^(\d+)-([\d.]+)$/.exec(path);
  if (!m || m[2] === '0') return null;
  const ports = m[2]!.split('.').map(Number);
  const port = ports.pop()!;
  return { hub: ports.length ? `${m[1]}-${ports.join('.')}` : `usb${m[1]}`, port };
}

/** How Linux names a device in sysfs: `1-2.3`, or `usb1` for a root hub. */
export function sysfsName(host: HostDevice): string | undefined {
  const loc = host.location;
  if (!loc) return undefined;
  return loc.portNumbers.length === 0 ? `usb${loc.busNumber}` : formatPortPath(loc);
}

export interface HubDevice {
  readonly path: string;
  readonly vendorId: number;
  readonly productId: number;
  readonly product: string | undefined;
  readonly serialNumber: string | undefined;
  readonly ours: boolean;
  readonly host: HostDevice;
}

export interface HubPortInfo {
  readonly port: number;
  /** From GET_STATUS; null where the hub did not answer. */
  readonly powered: boolean | null;
  readonly connected: boolean | null;
  /** Everything plugged below this port (directly or through further hubs). */
  readonly devices: readonly HubDevice[];
  /** Whether every device below is ours (an empty port counts as not ours: nothing to cycle). */
  readonly allOurs: boolean;
  /** How a switch of this port would be made (switchable hubs only). */
  readonly switchBy?: PortPowerMethod;
}

export interface HubInfo {
  /** sysfs-style name: `1-2` or `usb1`. */
  readonly name: string;
  /** udev's ID_PATH where sysfs shows it (labgrid's match key), else undefined. */
  readonly idPath: string | undefined;
  readonly vendorId: number;
  readonly productId: number;
  readonly product: string | undefined;
  readonly descriptor: HubDescriptor | null;
  /** Why the descriptor could not be read, if so. */
  readonly error?: string;
  readonly switchable: boolean;
  readonly ports: readonly HubPortInfo[];
  readonly host: HostDevice;
}

export interface HubControlOptions {
  /** Whether a device is one of ours (matches our drivers' ID tables). */
  isOurs(device: HostDevice): boolean;
  /** Where sysfs lives, for ID_PATH and the ports' `disable` attributes ('' disables both). Default /sys. */
  sysfsRoot?: string;
  /** Whose sysfs rules apply (default process.platform; sysfs is used on 'linux' only). */
  platform?: NodeJS.Platform;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

function describeDevice(d: HubDevice): string {
  return `${d.path} ${hex4(d.vendorId)}:${hex4(d.productId)}${d.product ? ` ${d.product}` : ''}`;
}

export class HubControl {
  private readonly sysfsRoot: string;
  /** `hub:method` pairs already logged at info level (each later switch logs at debug). */
  private readonly announced = new Set<string>();

  constructor(
    private readonly backends: readonly HostBackend[],
    private readonly options: HubControlOptions,
  ) {
    this.sysfsRoot = options.sysfsRoot ?? '/sys';
  }

  /** Every hub the backends list, with its descriptor, port power states and the devices behind each port. */
  async listHubs(): Promise<HubInfo[]> {
    const all = (await Promise.all(this.backends.map((b) => b.getDevices()))).flat();
    const devices: HubDevice[] = [];
    const hubs: HostDevice[] = [];
    for (const h of all) {
      const path = sysfsName(h);
      if (!path) continue;
      if (h.usb.deviceClass === HUB_CLASS) hubs.push(h);
      else {
        devices.push({
          path,
          vendorId: h.usb.vendorId,
          productId: h.usb.productId,
          product: h.usb.productName ?? undefined,
          serialNumber: h.usb.serialNumber ?? undefined,
          ours: this.options.isOurs(h),
          host: h,
        });
      }
    }
    const out: HubInfo[] = [];
    for (const h of hubs) out.push(await this.describeHub(h, devices));
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The hub of that name (sysfs-style or ID_PATH). */
  async findHub(name: string): Promise<HubInfo> {
    const hubs = await this.listHubs();
    const hub = hubs.find((h) => h.name === name || h.idPath === name);
    if (!hub) throw new HubError(`no hub '${name}'; hubs: ${hubs.map((h) => h.name).join(', ') || 'none'}`);
    return hub;
  }

  /**
   * Switches one port's power. Refuses a hub without per-port switching, a port out of range,
   * and (unless forced) a port with anything that is not ours behind it. Says how it switched.
   */
  async setPortPower(hubName: string, port: number, on: boolean, options: { force?: boolean } = {}): Promise<PortPowerMethod> {
    const hub = await this.findHub(hubName);
    this.checkSwitchable(hub, port, options.force ?? false, on);
    return this.sendPower(hub.host, port, on);
  }

  /**
   * The switch itself, without the checks (the caller made them): the port's sysfs `disable`
   * attribute where it is writable, else the hub class request (uhubctl's `set_port_status`
   * order; it too falls back when the attribute is missing, as on kernels before 6.0).
   */
  async sendPower(hub: HostDevice, port: number, on: boolean): Promise<PortPowerMethod> {
    const name = sysfsName(hub);
    const sysfs = this.sysfsUsable();
    const disable = name ? await this.disablePath(name, port) : null;
    if (disable) {
      try {
        await writeHubPortDisable(disable, !on);
        this.report(name!, port, on, 'sysfs-disable', { path: disable });
        return 'sysfs-disable';
      } catch (err) {
        log.warn({ err, hub: name, port, path: disable }, 'writing the port\'s disable attribute failed: sending the hub class request instead');
      }
    }
    await this.withOpen(hub, async (usb) => {
      const r = await usb.controlTransferOut({
        requestType: 'class',
        recipient: 'other',
        request: on ? REQ.SET_FEATURE : REQ.CLEAR_FEATURE,
        value: PORT_POWER,
        index: port,
      }, new Uint8Array(0));
      if (r.status !== 'ok') throw new HubError(`${on ? 'SET' : 'CLEAR'}_FEATURE(PORT_POWER) on ${name} port ${port} answered ${r.status}`);
    });
    this.report(name ?? '?', port, on, 'hub-request', sysfs ? { note: 'no writable sysfs disable attribute (kernel < 6.0 or no permission): Linux\'s hub driver powers the port back on within seconds' } : {});
    return 'hub-request';
  }

  /**
   * Where the hub did not answer GET_STATUS (the nusb backend refuses other-recipient control
   * transfers on a device with no claimed interface): power from the port's `disable`
   * attribute (0 = powered), connection unknown.
   */
  private async powerFromSysfs(hub: string, port: number): Promise<{ powered: boolean | null; connected: boolean | null } | undefined> {
    const path = await this.disablePath(hub, port);
    if (!path) return undefined;
    const text = await readSysfsStringAsync(path);
    return text === '0' || text === '1' ? { powered: text === '0', connected: null } : undefined;
  }

  private sysfsUsable(): boolean {
    return Boolean(this.sysfsRoot) && (this.options.platform ?? process.platform) === 'linux';
  }

  private disablePath(hub: string, port: number): Promise<string | null> {
    if (!this.sysfsUsable()) return Promise.resolve(null);
    return hubPortDisablePath({ platform: 'linux', sysfsUsbPath: `${this.sysfsRoot}/bus/usb` }, hub, port);
  }

  private report(hub: string, port: number, on: boolean, method: PortPowerMethod, extra: Record<string, unknown>): void {
    const key = `${hub}:${method}`;
    const first = !this.announced.has(key);
    this.announced.add(key);
    log[first ? 'info' : 'debug']({ hub, port, on, method, ...extra }, first ? `switching ${hub}'s ports by ${method === 'sysfs-disable' ? 'the sysfs disable attribute' : 'the hub class request'}` : 'port power');
  }

  checkSwitchable(hub: HubInfo, port: number, force: boolean, on: boolean): HubPortInfo {
    if (!hub.switchable) {
      throw new HubError(
        `hub ${hub.name} does not report per-port power switching (${hub.descriptor ? hub.descriptor.powerSwitching : hub.error ?? 'no descriptor'}); its ports cannot be cycled one by one`,
      );
    }
    const info = hub.ports.find((p) => p.port === port);
    if (!info) throw new HubError(`hub ${hub.name} has ports 1..${hub.ports.length}, not ${port}`);
    const foreign = info.devices.filter((d) => !d.ours);
    // Powering a port back on never hurts; cutting one with someone else's device on it might.
    if (!on && foreign.length > 0 && !force) throw new ForeignDeviceError(hub.name, port, foreign.map(describeDevice));
    return info;
  }

  private async describeHub(h: HostDevice, devices: readonly HubDevice[]): Promise<HubInfo> {
    const name = sysfsName(h)!;
    const base = {
      name,
      idPath: await this.idPath(name),
      vendorId: h.usb.vendorId,
      productId: h.usb.productId,
      product: h.usb.productName ?? undefined,
      host: h,
    };
    let descriptor: HubDescriptor | null = null;
    const statuses = new Map<number, { powered: boolean; connected: boolean }>();
    let error: string | undefined;
    try {
      await this.withOpen(h, async (usb) => {
        const superSpeed = usb.usbVersionMajor >= 3;
        const type = superSpeed ? SS_HUB_DESCRIPTOR : HUB_DESCRIPTOR;
        const r = await usb.controlTransferIn({ requestType: 'class', recipient: 'device', request: REQ.GET_DESCRIPTOR, value: type << 8, index: 0 }, 71);
        if (r.status !== 'ok' || !r.data) throw new HubError(`GET_DESCRIPTOR(hub) answered ${r.status}`);
        descriptor = parseHubDescriptor(r.data);
        for (let p = 1; p <= descriptor.ports; p++) {
          const s = await usb
            .controlTransferIn({ requestType: 'class', recipient: 'other', request: REQ.GET_STATUS, value: 0, index: p }, 4)
            .catch((err: unknown) => {
              log.debug({ hub: name, port: p, err }, 'GET_STATUS(port) failed');
              return null;
            });
          if (s?.status === 'ok' && s.data && s.data.byteLength >= 2) {
            const status = s.data.getUint16(0, true);
            // PORT_POWER is bit 8 on USB 2.0 hubs, bit 9 on SuperSpeed ones.
            statuses.set(p, { connected: (status & 1) !== 0, powered: (status & (descriptor.superSpeed ? 0x200 : 0x100)) !== 0 });
          }
        }
      });
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      log.debug({ hub: name, err }, 'reading the hub descriptor failed');
    }
    const d = descriptor as HubDescriptor | null;
    const count = d?.ports ?? 0;
    const ports: HubPortInfo[] = [];
    for (let p = 1; p <= count; p++) {
      const below = devices.filter((dev) => {
        const parent = parentPort(dev.path);
        if (!parent) return false;
        if (parent.hub === name && parent.port === p) return true;
        // Deeper: the device's path continues this port's path.
        const portPath = name.startsWith('usb') ? `${name.slice(3)}-${p}` : `${name}.${p}`;
        return dev.path.startsWith(`${portPath}.`);
      });
      const st = statuses.get(p) ?? (await this.powerFromSysfs(name, p));
      const switchBy: PortPowerMethod | undefined = d?.powerSwitching !== 'per-port' ? undefined : (await this.disablePath(name, p)) ? 'sysfs-disable' : 'hub-request';
      ports.push({ port: p, powered: st?.powered ?? null, connected: st?.connected ?? null, devices: below, allOurs: below.length > 0 && below.every((x) => x.ours), ...(switchBy ? { switchBy } : {}) });
    }
    return { ...base, descriptor: d, ...(error ? { error } : {}), switchable: d?.powerSwitching === 'per-port', ports };
  }

  private async withOpen<T>(h: HostDevice, fn: (usb: USBDevice) => Promise<T>): Promise<T> {
    const usb = h.usb;
    const wasOpen = usb.opened;
    if (!wasOpen) await usb.open();
    try {
      return await fn(usb);
    } finally {
      if (!wasOpen) await usb.close().catch(() => undefined);
    }
  }

  /** udev's ID_PATH for a USB device, from where its sysfs directory really is. */
  private async idPath(name: string): Promise<string | undefined> {
    if (!this.sysfsRoot) return undefined;
    try {
      const fs = await import('node:fs/promises');
      const real = await fs.realpath(`${this.sysfsRoot}/bus/usb/devices/${name}`);
      return idPathFromSysfs(real, name);
    } catch {
      return undefined;
    }
  }
}

/**
 * `/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2` -> `pci-0000:00:14.0-usb-0:2` (what udev's
 * path_id builds for a USB device); platform controllers give `platform-<name>-usb-0:2`.
 */
export function idPathFromSysfs(realPath: string, name: string): string | undefined {
  const parts = realPath.split('/').filter(Boolean);
  const usbIdx = parts.findIndex((p) => /^usb\d+$/.test(p));
  if (usbIdx < 1) return undefined;
  const controller = parts[usbIdx - 1]!;
  const prefix = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$/i.test(controller) ? `pci-${controller}` : `platform-${controller}`;
  const m = /^\d+-([\d.]+)$/.exec(name);
  return m ? `${prefix}-usb-0:${m[1]}` : `${prefix}-usb-0:0`;
}

/** The dry-run listing: switchable hubs, their ports, and the dongles behind them. */
export function formatHubListing(hubs: readonly HubInfo[]): string[] {
  const lines: string[] = [];
  if (hubs.length === 0) return ['no USB hubs found'];
  for (const h of hubs) {
    const sw = h.descriptor ? `${h.descriptor.powerSwitching} power switching` : `descriptor unreadable: ${h.error ?? '?'}`;
    lines.push(`hub ${h.name}${h.idPath ? ` (ID_PATH ${h.idPath})` : ''} ${hex4(h.vendorId)}:${hex4(h.productId)}${h.product ? ` ${h.product}` : ''}: ${h.ports.length} ports, ${sw}${h.switchable ? '' : ' -- not switchable'}`);
    for (const p of h.ports) {
      const power = p.powered === null ? '?' : p.powered ? 'on' : 'off';
      const what = p.devices.length === 0 ? 'empty' : p.devices.map((d) => `${describeDevice(d)}${d.ours ? ' (ours)' : ' (NOT ours)'}`).join('; ');
      const by = p.switchBy ? ` by ${p.switchBy}` : '';
      const verdict = !h.switchable ? '' : p.devices.length === 0 ? '' : p.allOurs ? `  [will cycle${by}]` : `  [refused without --force]`;
      lines.push(`  port ${p.port}: power ${power}, ${what}${verdict}`);
    }
  }
  return lines;
}
