// The standard requests every device answers on its default pipe (USB 2.0 chapter 9.4), from its
// descriptors and state, when its emulation leaves a request to the base.
import {
  encodeConfigurationDescriptor,
  encodeDeviceDescriptor,
  encodeLangIds,
  encodeStringDescriptor,
  type ConfigurationDescriptor,
  type DeviceDescriptor,
  type EndpointDescriptor,
} from './descriptors.ts';
import type { ControlReply, ControlSetup } from './emulation.ts';

/** bRequest codes of the standard requests (USB 2.0 table 9-4). */
export const REQ = {
  GET_STATUS: 0x00,
  CLEAR_FEATURE: 0x01,
  SET_FEATURE: 0x03,
  SET_ADDRESS: 0x05,
  GET_DESCRIPTOR: 0x06,
  GET_CONFIGURATION: 0x08,
  SET_CONFIGURATION: 0x09,
  GET_INTERFACE: 0x0a,
  SET_INTERFACE: 0x0b,
} as const;

/** The feature selector of CLEAR_FEATURE / SET_FEATURE on an endpoint (USB 2.0 table 9-6). */
export const ENDPOINT_HALT = 0;

/** The device state a standard request reads. */
export interface StandardRequestState {
  readonly descriptor: DeviceDescriptor;
  /** The active configuration; undefined when unconfigured. */
  readonly configuration: ConfigurationDescriptor | undefined;
  readonly configurationValue: number | null;
  alternateSetting(interfaceNumber: number): number;
  isHalted(endpointAddress: number): boolean;
  /** The endpoint in the active configuration and alternates. */
  activeEndpoint(endpointAddress: number): EndpointDescriptor | undefined;
}

/** Answers standard requests (USB 2.0 chapter 9.4) from the descriptors and state; undefined = not a standard request. */
export function answerStandardRequest(s: ControlSetup, dev: StandardRequestState): ControlReply {
  if (s.requestType !== 'standard') return undefined;
  const d = dev.descriptor;
  const c = dev.configuration;
  switch (s.bRequest) {
    case REQ.GET_DESCRIPTOR: {
      if (s.direction !== 'in') return 'stall';
      const type = s.wValue >> 8;
      const index = s.wValue & 0xff;
      if (type === 1) return encodeDeviceDescriptor(d);
      if (type === 2) {
        const cfg = d.configurations[index];
        return cfg ? encodeConfigurationDescriptor(cfg, d.bcdUSB) : 'stall';
      }
      if (type === 3) {
        if (index === 0) return encodeLangIds(d.langIds);
        const text = d.strings.get(index);
        return text === undefined ? 'stall' : encodeStringDescriptor(text);
      }
      return 'stall'; // device qualifier, BOS, ...: a full-speed device has none
    }
    case REQ.GET_STATUS: {
      if (s.direction !== 'in') return 'stall';
      if (s.recipient === 'device') return new Uint8Array([(c?.bmAttributes ?? 0) & 0x40 ? 1 : 0, 0]);
      if (s.recipient === 'interface') {
        return c?.interfaces.some((i) => i.bInterfaceNumber === (s.wIndex & 0xff)) ? new Uint8Array([0, 0]) : 'stall';
      }
      if (s.recipient === 'endpoint') {
        const a = s.wIndex & 0x8f;
        if ((a & 0x0f) === 0) return new Uint8Array([0, 0]);
        return dev.activeEndpoint(a) ? new Uint8Array([dev.isHalted(a) ? 1 : 0, 0]) : 'stall';
      }
      return 'stall';
    }
    case REQ.GET_CONFIGURATION:
      return new Uint8Array([dev.configurationValue ?? 0]);
    case REQ.SET_CONFIGURATION:
      return s.wValue === 0 || d.configurations.some((x) => x.bConfigurationValue === s.wValue) ? 'ack' : 'stall';
    case REQ.GET_INTERFACE: {
      const iface = c?.interfaces.find((i) => i.bInterfaceNumber === (s.wIndex & 0xff));
      return iface ? new Uint8Array([dev.alternateSetting(iface.bInterfaceNumber)]) : 'stall';
    }
    case REQ.SET_INTERFACE: {
      const iface = c?.interfaces.find((i) => i.bInterfaceNumber === (s.wIndex & 0xff));
      return iface?.alternates.some((a) => a.bAlternateSetting === s.wValue) ? 'ack' : 'stall';
    }
    case REQ.CLEAR_FEATURE:
    case REQ.SET_FEATURE:
      if (s.recipient === 'endpoint') {
        const a = s.wIndex & 0x8f;
        return s.wValue === ENDPOINT_HALT && ((a & 0x0f) === 0 || dev.activeEndpoint(a)) ? 'ack' : 'stall';
      }
      return s.recipient === 'device' ? 'ack' : 'stall';
    case REQ.SET_ADDRESS:
      return 'ack';
    default:
      return undefined;
  }
}
