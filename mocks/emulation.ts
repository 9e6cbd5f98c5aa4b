// What a chip emulation implements (MockBehaviour) and sees of its device (MockDeviceContext),
// and the SETUP packet in the words both sides use.
import type { Logger } from 'pino';
import type { DeviceDescriptor } from './descriptors.ts';
import type { MockUsbDevice } from './device.ts';
import type { SetupFields } from './transfer-log.ts';

/** A SETUP packet, raw fields plus their decoded meaning. */
export interface ControlSetup extends SetupFields {
  readonly direction: USBDirection;
  readonly requestType: USBRequestType | 'reserved';
  readonly recipient: USBRecipient | 'reserved';
}

/**
 * A control handler's answer:
 * - Uint8Array: the data stage of an IN request (cut to wLength; shorter is a short answer);
 * - 'ack': accepted, no data (OUT requests, or an IN request answered with zero bytes);
 * - 'stall': refused (a protocol stall: only this request fails);
 * - undefined: not mine; the base answers standard requests from the descriptors, stalls the rest.
 */
export type ControlReply = Uint8Array | 'ack' | 'stall' | undefined;

/**
 * One IN packet: data of at most `maxBytes` (a packet shorter than wMaxPacketSize, including an
 * empty one, a ZLP, ends the transfer; a full one lets it continue), 'stall' to halt the endpoint,
 * or undefined to NAK: nothing to send now (call ctx.inReady(endpoint) when there is).
 */
export type InReply = Uint8Array | 'stall' | undefined;

/** An OUT answer: nothing (accepted) or 'stall' (halts the endpoint). */
export type OutReply = void | 'stall';

/**
 * What a chip emulation implements; every member is optional. The device calls these from the
 * host side; `ctx` is the device as the chip sees it.
 *
 * IN data is pulled: when an IN transfer is pending on an endpoint (or a new one is submitted), the
 * base calls onIn for one packet at a time. A chip with nothing to send returns undefined (NAK) and
 * calls `ctx.inReady(endpoint)` later, from a timer or an event (an FTDI status packet every latency
 * period, a PL2303 notification when a modem line changes), and the base polls again. Nothing is
 * taken from the chip unless a transfer is there to carry it, so no data is lost to timeouts.
 */
export interface MockBehaviour {
  /** Once, when the device is constructed. */
  bind?(ctx: MockDeviceContext): void;
  /** A control request: setup plus the OUT data stage (undefined for IN requests). May be async (a slow answer). */
  onControl?(setup: ControlSetup, data: Uint8Array | undefined, ctx: MockDeviceContext): ControlReply | Promise<ControlReply>;
  /**
   * Bulk/interrupt OUT data for an endpoint (address, e.g. 0x02). Calls are serialised per endpoint.
   * A returned promise holds the transfer pending until it settles (a NAK while the chip's buffer is
   * full); the data is the chip's once this is called, even if the host later times out.
   */
  onOut?(endpointAddress: number, data: Uint8Array, ctx: MockDeviceContext): OutReply | Promise<OutReply>;
  /** One IN packet for an endpoint (address, e.g. 0x81), at most maxBytes (normally wMaxPacketSize). Synchronous. */
  onIn?(endpointAddress: number, maxBytes: number, ctx: MockDeviceContext): InReply;
  /** Plugged into a host (powered). */
  plugged?(ctx: MockDeviceContext): void;
  /** Unplugged (power lost): stop producing; ctx timers are already cleared. */
  unplugged?(ctx: MockDeviceContext): void;
  /** Bus reset (USBDevice.reset()). */
  reset?(ctx: MockDeviceContext): void;
  /** A host opened / closed the device (no bus traffic in reality; here for convenience). */
  opened?(ctx: MockDeviceContext): void;
  closed?(ctx: MockDeviceContext): void;
  /** The configuration changed (SET_CONFIGURATION, the host configuring at plug); null = unconfigured. */
  configurationChanged?(configurationValue: number | null, ctx: MockDeviceContext): void;
  /** SET_INTERFACE changed an interface's alternate setting. */
  alternateChanged?(interfaceNumber: number, alternateSetting: number, ctx: MockDeviceContext): void;
  /** A halt on one of the chip's endpoints was cleared (CLEAR_FEATURE ENDPOINT_HALT). */
  haltCleared?(endpointAddress: number, ctx: MockDeviceContext): void;
}

/** The device as its chip emulation sees it. */
export interface MockDeviceContext {
  readonly device: MockUsbDevice;
  readonly descriptor: DeviceDescriptor;
  readonly plugged: boolean;
  readonly opened: boolean;
  readonly configurationValue: number | null;
  alternateSetting(interfaceNumber: number): number;
  /** Tells the base new IN data may be ready on an endpoint: pending IN transfers there are polled again. */
  inReady(endpointAddress: number): void;
  /** Halts an endpoint from the device side (a functional stall); pending and new transfers on it stall. */
  halt(endpointAddress: number): void;
  isHalted(endpointAddress: number): boolean;
  /** Timers that die with the device's power: all cleared on unplug. Return a cancel function. Unref'd. */
  after(ms: number, fn: () => void): () => void;
  every(ms: number, fn: () => void): () => void;
  now(): number;
  readonly log: Logger;
}

/** bmRequestType bits 6..5, in order (3 is reserved). */
export const REQUEST_TYPES: readonly USBRequestType[] = ['standard', 'class', 'vendor'];
/** bmRequestType bits 4..0, in order (4..31 are reserved). */
export const RECIPIENTS: readonly USBRecipient[] = ['device', 'interface', 'endpoint', 'other'];

/** Decodes bmRequestType into the WebUSB words. */
export function decodeSetup(f: SetupFields): ControlSetup {
  const t = (f.bmRequestType >> 5) & 3;
  const r = f.bmRequestType & 0x1f;
  return {
    ...f,
    direction: f.bmRequestType & 0x80 ? 'in' : 'out',
    requestType: REQUEST_TYPES[t] ?? 'reserved',
    recipient: RECIPIENTS[r] ?? 'reserved',
  };
}

/** bmRequestType from WebUSB words. */
export function encodeRequestType(direction: USBDirection, requestType: USBRequestType, recipient: USBRecipient): number {
  return (direction === 'in' ? 0x80 : 0) | (REQUEST_TYPES.indexOf(requestType) << 5) | RECIPIENTS.indexOf(recipient);
}

