// `usb-harness list`: USB devices, which driver bound which interface, ports and their settings.
import { UsbDevice, UsbInterface, UsbSerial } from '../../index.ts';
import type { UsbSerialStack } from '../../stack.ts';
import { hex4, table, type Output } from '../output.ts';

export interface ListedPort {
  name: string;
  path: string;
  state: string;
  settings: Record<string, unknown> | null;
}
export interface ListedInterface {
  name: string;
  number: number;
  class: number;
  driver: string | null;
  serialDriver: string | null;
  ports: ListedPort[];
}
export interface ListedDevice {
  name: string;
  vendorId: string;
  productId: string;
  bcdDevice: string;
  manufacturer: string | null;
  product: string | null;
  serialNumber: string | null;
  interfaces: ListedInterface[];
}

export function listDevices(ctx: Pick<UsbSerialStack, 'usb'>): ListedDevice[] {
  return ctx.usb.bus
    .listDevices()
    .filter((d): d is UsbDevice => d instanceof UsbDevice)
    .map((d) => ({
      name: d.name,
      vendorId: hex4(d.vendorId),
      productId: hex4(d.productId),
      bcdDevice: hex4(d.bcdDevice),
      manufacturer: d.manufacturer ?? null,
      product: d.product ?? null,
      serialNumber: d.serialNumber ?? null,
      interfaces: d.interfaces.map((i: UsbInterface) => {
        const serial = i.driverData instanceof UsbSerial ? i.driverData : null;
        return {
          name: i.name,
          number: i.interfaceNumber,
          class: i.interfaceClass,
          driver: i.driver?.name ?? null,
          serialDriver: serial?.type.name ?? null,
          ports: (serial?.ports ?? []).map((p) => ({
            name: p.name,
            path: p.stablePath,
            state: p.portState,
            settings: p.settings ? { ...p.settings } : null,
          })),
        };
      }),
    }));
}

export function printList(ctx: Pick<UsbSerialStack, 'usb'>, out: Output): void {
  const devices = listDevices(ctx);
  if (out.json) {
    out.data({ devices });
    return;
  }
  if (devices.length === 0) {
    out.line('no USB devices');
    return;
  }
  const rows: string[][] = [];
  for (const d of devices) {
    rows.push([d.name, `${d.vendorId}:${d.productId}`, [d.manufacturer, d.product].filter(Boolean).join(' '), d.serialNumber ? `serial ${d.serialNumber}` : '']);
    for (const i of d.interfaces) {
      const ports = i.ports.map((p) => `${p.name} ${p.path} ${p.state}${p.settings ? ` ${String(p.settings.actualBaudRate)} baud` : ''}`).join('; ');
      rows.push([`  ${i.name}`, i.driver ?? '(no driver)', i.serialDriver ? `${i.serialDriver}: ${ports || 'no ports'}` : '', '']);
    }
  }
  for (const l of table(rows)) out.line(l.trimEnd());
}
