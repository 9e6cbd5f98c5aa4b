// navigator.usb for the page's emulated mode: the mock lab's WebUSB object with a browser's
// permission model on top. As in Chromium, a page sees only devices it was granted through
// requestDevice (getDevices, connect/disconnect); the chooser is a <dialog> listing the plugged
// devices that match the filters. A grant is kept per device identity (vendor, product, serial
// number) so a replugged dongle with a serial number stays granted, as Chromium keeps permissions
// for devices that have one.
import { filterMatches, type MockLab } from '../../mocks/index.ts';

type Listener = (ev: USBConnectionEvent) => void;
type Chooser = (candidates: USBDevice[]) => Promise<USBDevice | null>;

function identity(d: USBDevice): string {
  return d.serialNumber ? `${d.vendorId}:${d.productId}:${d.serialNumber}` : '';
}

export class EmulatedNavigatorUsb {
  readonly #lab: MockLab;
  readonly #choose: Chooser;
  readonly #granted = new Set<USBDevice>();
  readonly #grantedIds = new Set<string>();
  readonly #listeners = { connect: new Set<Listener>(), disconnect: new Set<Listener>() };
  onconnect: Listener | null = null;
  ondisconnect: Listener | null = null;

  constructor(lab: MockLab, choose: Chooser) {
    this.#lab = lab;
    this.#choose = choose;
    for (const type of ['connect', 'disconnect'] as const) {
      lab.host.webusb.addEventListener(type, (ev: USBConnectionEvent) => {
        if (!this.#isGranted(ev.device)) return;
        for (const l of [...this.#listeners[type]]) l(ev);
        this[`on${type}`]?.(ev);
      });
    }
  }

  #isGranted(d: USBDevice): boolean {
    const id = identity(d);
    return this.#granted.has(d) || (id !== '' && this.#grantedIds.has(id));
  }

  #plugged(): USBDevice[] {
    return this.#lab.host.devices.map((d) => d.usb as USBDevice);
  }

  async getDevices(): Promise<USBDevice[]> {
    return this.#plugged().filter((d) => this.#isGranted(d));
  }

  /** The chooser: the page's dialog, with the plugged devices the filters match. */
  async requestDevice(options: USBDeviceRequestOptions): Promise<USBDevice> {
    const filters = options?.filters ?? [];
    const candidates = this.#plugged().filter((d) => filters.length === 0 || filters.some((f) => filterMatches(f, d)));
    const picked = await this.#choose(candidates);
    if (!picked) throw new DOMException('No device selected.', 'NotFoundError');
    this.#granted.add(picked);
    const id = identity(picked);
    if (id) this.#grantedIds.add(id);
    (picked as { _unforget?: () => void })._unforget?.();
    return picked;
  }

  /** Drops a grant (what USBDevice.forget does in a browser). */
  revoke(device: USBDevice): void {
    this.#granted.delete(device);
    this.#grantedIds.delete(identity(device));
  }

  addEventListener(type: 'connect' | 'disconnect', listener: Listener): void {
    this.#listeners[type].add(listener);
  }

  removeEventListener(type: 'connect' | 'disconnect', listener: Listener): void {
    this.#listeners[type].delete(listener);
  }
}
