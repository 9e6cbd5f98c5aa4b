// usb drivers (Linux: struct usb_driver): an ID table, probe(interface, matched entry) and
// disconnect(interface). The bus claims the interface for the driver before probe (detaching a
// kernel driver from that interface only) and gives it back after disconnect.
import { Driver, ProbeNoMatch, type Attribute } from '../core/index.ts';
import type { UsbBus } from './bus.ts';
import { UsbInterface, type UsbNode } from './device.ts';
import type { UsbDeviceId } from './ids.ts';

export interface UsbDriverOptions {
  readonly name: string;
  readonly idTable?: readonly UsbDeviceId[];
  /** No new_id / remove_id files (usb-serial's usb drivers: their serial drivers have them). */
  readonly noDynamicId?: boolean;
  readonly suppressBindAttrs?: boolean;
  /** Claim the interface before probe (default true). */
  readonly claimInterface?: boolean;
  readonly attributes?: Readonly<Record<string, Attribute>>;
  probe(intf: UsbInterface, id: UsbDeviceId | null): void | Promise<void>;
  disconnect?(intf: UsbInterface): void | Promise<void>;
  registered?(): void | Promise<void>;
}

export class UsbDriver extends Driver<UsbNode, UsbDeviceId> {
  readonly claimsInterface: boolean;

  constructor(bus: UsbBus, readonly usb: UsbDriverOptions) {
    super(bus, {
      name: usb.name,
      ...(usb.idTable ? { idTable: usb.idTable } : {}),
      noDynamicId: usb.noDynamicId ?? false,
      suppressBindAttrs: usb.suppressBindAttrs ?? false,
      ...(usb.attributes ? { attributes: usb.attributes } : {}),
      probe: (node, id) => {
        if (!(node instanceof UsbInterface)) throw new ProbeNoMatch('usb drivers bind interfaces');
        return usb.probe(node, id);
      },
      remove: (node) => {
        if (node instanceof UsbInterface) return usb.disconnect?.(node);
      },
      ...(usb.registered ? { registered: () => usb.registered!() } : {}),
    });
    this.claimsInterface = usb.claimInterface ?? true;
  }
}
