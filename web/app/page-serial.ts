// The page's one composition: a Web Serial `Serial` over our usb-serial drivers, read from either
// the browser's navigator.usb (real adapters) or the emulated lab running inside the page.
import { createWebSerial, type Serial, type SerialPortFilter } from '../../src/serial/web-serial.ts';
import { createStack } from '../../src/stack.ts';
import { createWebUsbBackend, type WebUsbLike } from '../../src/usb/index.ts';
import { defaultDriverSets } from '../../drivers/index.ts';
import { createMockLab, type MockLab } from '../../mocks/index.ts';
import { EmulatedNavigatorUsb } from './emulated-usb.ts';

export type PageMode = 'real' | 'emulated';

export interface PageSerial {
  mode: PageMode;
  serial: Serial;
  /** requestPort filters: one per ID our drivers bind (VID, and PID where the entry has one). */
  filters: SerialPortFilter[];
  /** The emulated lab (emulated mode only). */
  lab: MockLab | null;
  webusb: WebUsbLike & { requestDevice(o: USBDeviceRequestOptions): Promise<USBDevice> };
}

export interface PageSerialOptions {
  mode: PageMode;
  /** The emulated mode's chooser (the page's dialog). */
  choose(candidates: USBDevice[]): Promise<USBDevice | null>;
  /** Pace the emulated UARTs at their baud rates (the default: the page shows real timing). */
  pacing?: boolean;
}

export async function createPageSerial(o: PageSerialOptions): Promise<PageSerial> {
  let lab: MockLab | null = null;
  let webusb: PageSerial['webusb'];
  if (o.mode === 'emulated') {
    // No kernel driver holds the emulated interfaces: the host a browser page meets on Windows
    // with WinUSB, or on Linux once ftdi_sio/pl2303 are unbound (Chromium cannot detach them).
    lab = createMockLab({ pacing: o.pacing ?? true, driverSets: defaultDriverSets(), host: { kernelDriver: { bound: 'none' } } });
    lab.plugAll();
    await lab.flush();
    webusb = new EmulatedNavigatorUsb(lab, o.choose);
  } else {
    const nav = (globalThis.navigator as Navigator & { usb?: USB }).usb;
    if (!nav) throw new Error('This browser has no WebUSB (navigator.usb): use Chrome, Edge or Opera on desktop or Android, over https or localhost.');
    webusb = nav as unknown as PageSerial['webusb'];
  }
  const backend = createWebUsbBackend({ usb: webusb });
  const sets = defaultDriverSets();
  const stack = await createStack({ host: backend, driverSets: sets });
  const filters = filtersOf(sets.flatMap((s) => s.ids));
  const serial = createWebSerial({ usb: stack.usb, webusb, backend });
  return { mode: o.mode, serial, filters, lab, webusb };
}

function filtersOf(ids: readonly { vendor?: number; product?: number }[]): SerialPortFilter[] {
  const seen = new Set<string>();
  const out: SerialPortFilter[] = [];
  for (const id of ids) {
    if (id.vendor === undefined) continue;
    const f: SerialPortFilter = id.product === undefined ? { usbVendorId: id.vendor } : { usbVendorId: id.vendor, usbProductId: id.product };
    const key = `${f.usbVendorId}:${f.usbProductId ?? '*'}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f);
    }
  }
  return out;
}
