// A usb-serial port: a device on the usb-serial bus (Linux: usb_serial_port, ttyUSB<n>), one
// per interface or channel of a bound adapter. The user-facing API on it (open, settings,
// streams) grows in src/serial/ as the chip drivers need it.
import { Device } from '../core/index.ts';
import type { UsbDeviceId } from '../usb/ids.ts';
import type { UsbDevice, UsbInterface } from '../usb/device.ts';
import type { SerialDriver } from './driver.ts';

/** One bound adapter interface (Linux: struct usb_serial). */
export class UsbSerial {
  readonly ports: UsbSerialPort[] = [];
  /** Whatever the serial driver keeps for the whole adapter (chip type, quirks...). */
  driverData: unknown = undefined;

  constructor(
    readonly intf: UsbInterface,
    readonly type: SerialDriver,
    readonly id: UsbDeviceId | null,
  ) {}

  get usbDevice(): UsbDevice {
    return this.intf.usbDevice;
  }

  get gone(): boolean {
    return this.intf.usbDevice.gone;
  }
}

export class UsbSerialPort extends Device {
  constructor(
    readonly serial: UsbSerial,
    /** Index of the port within its adapter interface. */
    readonly portNumber: number,
    /** ttyUSB<minor>. */
    readonly minor: number,
  ) {
    super(`ttyUSB${minor}`, serial.intf);
  }

  /** The serial driver's type name (what the usb-serial bus matches ports by). */
  get typeName(): string {
    return this.serial.type.name;
  }

  /**
   * A stable name for the port: the adapter's serial number and interface when it has a serial
   * number, else its bus/port path and interface (ttyUSB numbers change across plugs).
   */
  get stablePath(): string {
    const dev = this.serial.usbDevice;
    const where = dev.serialNumber ? `serial:${dev.serialNumber}` : `port:${dev.name}`;
    const port = this.serial.ports.length > 1 ? `.${this.portNumber}` : '';
    return `${where}:if${this.serial.intf.interfaceNumber}${port}`;
  }
}
