// libusb's descriptor structs as WebUSB's objects, and WebUSB's setup words as bmRequestType.
import type { LibusbConfigDescriptor, LibusbInterfaceDescriptor } from './libusb-module.ts';


/** BCD version (0x0210) as WebUSB's major/minor/subminor (2, 1, 0). */
export function decodeBcd(v: number): [number, number, number] {
  return [((v >> 12) & 0xf) * 10 + ((v >> 8) & 0xf), (v >> 4) & 0xf, v & 0xf];
}

const ENDPOINT_TYPES: Record<number, USBEndpointType | undefined> = {
  1: 'isochronous',
  2: 'bulk',
  3: 'interrupt',
};

export interface DescriptorNames {
  configuration(config: LibusbConfigDescriptor): string | null;
  iface(config: LibusbConfigDescriptor, alt: LibusbInterfaceDescriptor): string | null;
}

export function toWebUsbConfigurations(
  configs: readonly LibusbConfigDescriptor[],
  names: DescriptorNames,
): USBConfiguration[] {
  return configs.map((cfg) => ({
    configurationValue: cfg.bConfigurationValue,
    configurationName: names.configuration(cfg),
    interfaces: cfg.interfaces
      .filter((alts) => alts.length > 0)
      .map((alts) => {
        const alternates: USBAlternateInterface[] = alts.map((alt) => ({
          alternateSetting: alt.bAlternateSetting,
          interfaceClass: alt.bInterfaceClass,
          interfaceSubclass: alt.bInterfaceSubClass,
          interfaceProtocol: alt.bInterfaceProtocol,
          interfaceName: names.iface(cfg, alt),
          endpoints: alt.endpoints
            .filter((ep) => ENDPOINT_TYPES[ep.bmAttributes & 3])
            .map((ep) => ({
              endpointNumber: ep.bEndpointAddress & 0x0f,
              direction: ep.bEndpointAddress & 0x80 ? ('in' as const) : ('out' as const),
              type: ENDPOINT_TYPES[ep.bmAttributes & 3] as USBEndpointType,
              // The size field only (bits 10..0): bits 12..11 count extra transactions per
              // microframe and 15..13 are reserved (USB 2.0 9.6.6); libusb hands the raw word,
              // Linux's usb_endpoint_maxp() masks it, and so does the mock host's view.
              packetSize: ep.wMaxPacketSize & 0x7ff,
            })),
        }));
        const first = alts[0] as LibusbInterfaceDescriptor;
        return {
          interfaceNumber: first.bInterfaceNumber,
          alternate: alternates.find((a) => a.alternateSetting === 0) ?? (alternates[0] as USBAlternateInterface),
          alternates,
          claimed: false,
        };
      }),
  }));
}

const REQUEST_TYPE_BITS: Record<USBRequestType, number> = { standard: 0x00, class: 0x20, vendor: 0x40 };
const RECIPIENT_BITS: Record<USBRecipient, number> = { device: 0, interface: 1, endpoint: 2, other: 3 };

export function bmRequestType(setup: USBControlTransferParameters, direction: USBDirection): number {
  return (
    (direction === 'in' ? 0x80 : 0) |
    REQUEST_TYPE_BITS[setup.requestType] |
    RECIPIENT_BITS[setup.recipient]
  );
}
