// Serial drivers (Linux: struct usb_serial_driver): what a chip driver (FTDI, PL2303) provides.
// Each lives on the usb-serial bus; its adapters are probed through the usb driver it points at.
import { Driver, type Attribute } from '../core/index.ts';
import type { UsbDeviceId } from '../usb/ids.ts';
import type { UsbSerial, UsbSerialPort } from './port.ts';
import type { PortOperations } from './port-ops.ts';
import type { UsbSerialBus } from './bus.ts';
import type { UsbDriver } from '../usb/driver.ts';

/** What a chip driver implements. Every method is optional but the table. */
export interface SerialDriverSpec {
  /** Linux's driver name, e.g. 'ftdi_sio'. */
  readonly name: string;
  readonly description?: string;
  readonly idTable: readonly UsbDeviceId[];
  /** Ports per adapter interface when attach does not say (default 1). */
  readonly numPorts?: number;
  /** Checks the interface (throw ProbeNoMatch to decline). */
  probe?(serial: UsbSerial, id: UsbDeviceId | null): void | Promise<void>;
  /** Sets the adapter up; may return its number of ports. */
  attach?(serial: UsbSerial): void | number | Promise<void | number>;
  /** Per-port set-up and tear-down. */
  portProbe?(port: UsbSerialPort): void | Promise<void>;
  portRemove?(port: UsbSerialPort): void | Promise<void>;
  /** The adapter is going (unplug or unbind): stop I/O. */
  disconnect?(serial: UsbSerial): void | Promise<void>;
  /** Frees what attach set up. */
  release?(serial: UsbSerial): void | Promise<void>;
  /** Port I/O: open, settings, signals, read and write. Without it ports cannot be opened. */
  readonly port?: PortOperations;
}

/** What the usb-serial bus matches ports by: the serial driver that made them. */
export interface SerialTypeId {
  readonly serialType: string;
}
export type SerialId = UsbDeviceId | SerialTypeId;

export function isSerialTypeId(id: SerialId): id is SerialTypeId {
  return typeof (id as SerialTypeId).serialType === 'string';
}

export class SerialDriver extends Driver<UsbSerialPort, SerialId> {
  /** The usb driver this serial driver's adapters are probed through; set at registration. */
  usbDriver: UsbDriver | null = null;

  constructor(
    bus: UsbSerialBus,
    readonly spec: SerialDriverSpec,
    attributes: Readonly<Record<string, Attribute>>,
  ) {
    super(bus, {
      name: spec.name,
      idTable: [{ serialType: spec.name }],
      // new_id/remove_id are our own (they forward to the usb driver); no bind/unbind, as Linux.
      noDynamicId: true,
      suppressBindAttrs: true,
      attributes,
      probe: (port) => spec.portProbe?.(port),
      remove: (port) => spec.portRemove?.(port),
    });
  }
}
