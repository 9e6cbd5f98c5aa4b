// Host backend over the browser's navigator.usb (or any object of the WebUSB `USB` shape).
// Browsers already give host.ts's transfer semantics (stall as a status, NotFoundError when the
// device goes, AbortError when release/close cut a transfer short), so devices pass through
// unwrapped; this file adds identity across events, keys and the HostBackend shape.
// Browser-safe: no Node imports.
import { NoUsbSubsystemError, type HostBackend, type HostDevice, type HostEvent } from '../host.ts';
import { childLog } from '../../log.ts';
import { HostBackendError, errorMessage } from './errors.ts';
import { WatchHub } from './watch-hub.ts';

const log = childLog('usb.backend.webusb');

/** What this backend needs of navigator.usb. */
export interface WebUsbLike {
  getDevices(): Promise<USBDevice[]>;
  addEventListener(type: 'connect' | 'disconnect', listener: (event: USBConnectionEvent) => void): void;
  removeEventListener(type: 'connect' | 'disconnect', listener: (event: USBConnectionEvent) => void): void;
}

export interface WebUsbBackendOptions {
  /** The WebUSB object; defaults to globalThis.navigator.usb. */
  usb?: WebUsbLike;
  /** transferIn calls a caller may keep pending on one endpoint. Default 4 (browsers queue them). */
  maxTransfersInFlight?: number;
}

class WebUsbHostDevice implements HostDevice {
  readonly location = undefined;
  readonly kernelDriver = undefined;
  constructor(
    readonly key: string,
    readonly usb: USBDevice,
    readonly maxTransfersInFlight: number,
  ) {}
}

export class WebUsbBackend implements HostBackend {
  readonly name = 'webusb';
  // Browsers hand out one USBDevice object per attachment, so it is the identity.
  private readonly known = new Map<USBDevice, WebUsbHostDevice>();
  private readonly hub: WatchHub;
  private readonly maxInFlight: number;
  private seq = 0;
  private closed = false;

  constructor(
    private readonly usb: WebUsbLike,
    opts: Omit<WebUsbBackendOptions, 'usb'> = {},
  ) {
    this.maxInFlight = opts.maxTransfersInFlight ?? 4;
    this.hub = new WatchHub(
      async () => {
        // addEventListener is synchronous: the listener is live when it returns.
        usb.addEventListener('connect', this.onConnect);
        usb.addEventListener('disconnect', this.onDisconnect);
      },
      async () => {
        usb.removeEventListener('connect', this.onConnect);
        usb.removeEventListener('disconnect', this.onDisconnect);
      },
      log,
    );
  }

  async getDevices(): Promise<HostDevice[]> {
    if (this.closed) throw new HostBackendError('webusb', 'backend is closed');
    let list: USBDevice[];
    try {
      list = await this.usb.getDevices();
    } catch (err) {
      throw new HostBackendError('webusb', `getDevices failed: ${errorMessage(err)}`, { cause: err });
    }
    const devices = list.map((d) => this.wrap(d));
    if (!this.hub.active) {
      const present = new Set(list);
      for (const d of this.known.keys()) if (!present.has(d)) this.known.delete(d);
    }
    return devices;
  }

  /**
   * A device the page was granted after watching began (navigator.usb.requestDevice): browsers
   * fire no 'connect' for a device already plugged in when access came, so watchers would never
   * hear of it. Announces it once (no event if it was already handed out, by getDevices or an
   * event), resolves after the watchers got the event; its disconnect then comes as for any other.
   */
  async adopt(device: USBDevice): Promise<HostDevice> {
    if (this.closed) throw new HostBackendError('webusb', 'backend is closed');
    const known = this.known.get(device);
    if (known) return known;
    const hd = this.wrap(device);
    if (this.hub.active) {
      this.hub.enqueue(() => ({ type: 'connect', device: hd }));
      await this.hub.drain();
    }
    return hd;
  }

  /**
   * The page gives a device up (USBDevice.forget): watchers get its disconnect now (browsers send
   * none for a device that stays plugged in), then the permission is revoked. A later grant of
   * the same device is announced again by adopt().
   */
  async forget(device: USBDevice): Promise<void> {
    const hd = this.known.get(device);
    if (hd) {
      this.known.delete(device);
      if (this.hub.active) {
        this.hub.enqueue(() => ({ type: 'disconnect', device: hd }));
        await this.hub.drain();
      }
    }
    await (device as USBDevice & { forget?: () => Promise<void> }).forget?.().catch((err: unknown) => log.debug({ err }, 'USBDevice.forget failed'));
  }

  async watch(listener: (event: HostEvent) => void): Promise<() => void> {
    if (this.closed) throw new HostBackendError('webusb', 'backend is closed');
    return this.hub.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.hub.close();
    await Promise.allSettled(
      [...this.known.keys()].filter((d) => d.opened).map((d) => d.close()),
    );
    this.known.clear();
  }

  private readonly onConnect = (event: USBConnectionEvent): void => {
    this.hub.enqueue(() => ({ type: 'connect', device: this.wrap(event.device) }));
  };

  private readonly onDisconnect = (event: USBConnectionEvent): void => {
    this.hub.enqueue(() => {
      const device = this.known.get(event.device);
      if (!device) return undefined;
      this.known.delete(event.device);
      return { type: 'disconnect', device };
    });
  };

  private wrap(usb: USBDevice): WebUsbHostDevice {
    let hd = this.known.get(usb);
    if (!hd) {
      hd = new WebUsbHostDevice(`webusb:${++this.seq}`, usb, this.maxInFlight);
      this.known.set(usb, hd);
    }
    return hd;
  }
}

/** navigator.usb from this global scope, if there is one. */
export function globalWebUsb(): WebUsbLike | undefined {
  const nav = (globalThis as { navigator?: { usb?: WebUsbLike } }).navigator;
  return nav?.usb ?? undefined;
}

/** The webusb backend; NoUsbSubsystemError when there is no navigator.usb and none was given. */
export function createWebUsbBackend(opts: WebUsbBackendOptions = {}): WebUsbBackend {
  const usb = opts.usb ?? globalWebUsb();
  if (!usb) throw new NoUsbSubsystemError('webusb', 'navigator.usb is not available');
  return new WebUsbBackend(usb, opts);
}
