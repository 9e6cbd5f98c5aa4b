// Descriptor data of an emulated device: the raw USB fields (what lsusb prints and what the
// device answers to GET_DESCRIPTOR), plus the WebUSB-shaped objects built from them. The raw form
// stays reachable from the device (MockUsbDevice.descriptor) because drivers need fields WebUSB
// hides: bMaxPacketSize0, iSerialNumber, the exact bcdDevice.
import { DescriptorError } from './errors.ts';

export type EndpointTransferType = 'control' | 'isochronous' | 'bulk' | 'interrupt';

/** One endpoint descriptor. */
export interface EndpointDescriptor {
  /** Endpoint number in bits 0-3, direction in bit 7 (0x80 = IN): 0x81 is EP 1 IN. */
  readonly bEndpointAddress: number;
  /** Transfer type, bits 0-1 of bmAttributes. */
  readonly type: EndpointTransferType;
  readonly wMaxPacketSize: number;
  readonly bInterval: number;
}

/** One alternate setting of an interface (an interface descriptor, in USB terms). */
export interface AlternateSettingDescriptor {
  readonly bAlternateSetting: number;
  readonly bInterfaceClass: number;
  readonly bInterfaceSubClass: number;
  readonly bInterfaceProtocol: number;
  /** 0 means no string. */
  readonly iInterface: number;
  readonly endpoints: readonly EndpointDescriptor[];
  /** Class-specific descriptors sent right after the interface descriptor (CDC functional descriptors), raw bytes. */
  readonly extra?: readonly number[];
}

export interface InterfaceDescriptor {
  readonly bInterfaceNumber: number;
  /** Sorted by bAlternateSetting; alternate 0 always exists. */
  readonly alternates: readonly AlternateSettingDescriptor[];
}

export interface ConfigurationDescriptor {
  readonly bConfigurationValue: number;
  /** 0 means no string. */
  readonly iConfiguration: number;
  /** D7 set, D6 self-powered, D5 remote wakeup. */
  readonly bmAttributes: number;
  /** Maximum power in mA (lsusb's MaxPower); encoded in 2 mA units (8 mA for USB 3). */
  readonly maxPowerMa: number;
  readonly interfaces: readonly InterfaceDescriptor[];
  /** Interface association descriptors (IAD), each sent before its first interface. */
  readonly associations?: readonly InterfaceAssociationDescriptor[];
}

/** An interface association descriptor (USB IAD ECN): groups interfaces of one function. */
export interface InterfaceAssociationDescriptor {
  readonly bFirstInterface: number;
  readonly bInterfaceCount: number;
  readonly bFunctionClass: number;
  readonly bFunctionSubClass: number;
  readonly bFunctionProtocol: number;
  readonly iFunction: number;
}

/**
 * A device's complete descriptor set, normalised and frozen (build it with defineDevice).
 * The string fields are what the indexes point to; an index of 0 means the device has no such
 * string, and a nonzero index without a string models a device whose string request stalls.
 */
export interface DeviceDescriptor {
  readonly bcdUSB: number;
  readonly bDeviceClass: number;
  readonly bDeviceSubClass: number;
  readonly bDeviceProtocol: number;
  readonly bMaxPacketSize0: number;
  readonly idVendor: number;
  readonly idProduct: number;
  readonly bcdDevice: number;
  readonly iManufacturer: number;
  readonly iProduct: number;
  readonly iSerialNumber: number;
  readonly manufacturer: string | null;
  readonly product: string | null;
  readonly serialNumber: string | null;
  readonly configurations: readonly ConfigurationDescriptor[];
  /** String table: index -> text (index 0, the language list, is not in it). */
  readonly strings: ReadonlyMap<number, string>;
  /** LANGIDs string descriptor 0 lists; default [0x0409] (English, US). */
  readonly langIds: readonly number[];
}

// ---- input forms, with defaults -----------------------------------------------------------

export interface EndpointSpec {
  bEndpointAddress: number;
  type: EndpointTransferType;
  /** Default: 64 (bulk/interrupt/control), 1023 isochronous. */
  wMaxPacketSize?: number;
  /** Default: 0 for bulk/control, 1 for interrupt/isochronous. */
  bInterval?: number;
}

export interface AlternateSpec {
  /** Default: its position in the list. */
  bAlternateSetting?: number;
  /** Default 0xff (vendor specific: what serial chips use). */
  bInterfaceClass?: number;
  bInterfaceSubClass?: number;
  bInterfaceProtocol?: number;
  /** Default: assigned when interfaceName is given, else 0. */
  iInterface?: number;
  interfaceName?: string;
  endpoints?: EndpointSpec[];
  /** Class-specific descriptors (whole descriptors, bLength first) after the interface descriptor. */
  extra?: ArrayLike<number>;
}

/** An interface with its alternates, or the shorthand: a single alternate (setting 0). */
export type InterfaceSpec = ({ bInterfaceNumber?: number; alternates: AlternateSpec[] }) | (AlternateSpec & { bInterfaceNumber?: number });

export interface ConfigurationSpec {
  /** Default: position + 1. */
  bConfigurationValue?: number;
  iConfiguration?: number;
  configurationName?: string;
  /** Default 0x80 (bus powered). */
  bmAttributes?: number;
  /** Default 100. */
  maxPowerMa?: number;
  interfaces?: InterfaceSpec[];
  associations?: InterfaceAssociationDescriptor[];
}

export interface DeviceSpec {
  idVendor: number;
  idProduct: number;
  /** Default 0x0200. */
  bcdUSB?: number;
  bDeviceClass?: number;
  bDeviceSubClass?: number;
  bDeviceProtocol?: number;
  /** Default 64. */
  bMaxPacketSize0?: number;
  /** Default 0x0100. */
  bcdDevice?: number;
  /** Indexes default to assigned ones when the string is given (1, 2, 3, ... shared by equal strings), else 0. */
  iManufacturer?: number;
  iProduct?: number;
  iSerialNumber?: number;
  manufacturer?: string | null;
  product?: string | null;
  serialNumber?: string | null;
  /** Default: one configuration with no interfaces. */
  configurations?: ConfigurationSpec[];
  /** Extra strings by index (e.g. ones only a vendor request reads). */
  strings?: Record<number, string>;
  langIds?: number[];
}

function u8(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new DescriptorError(`${what} must be a byte, got ${v}`);
  return v;
}

function u16(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new DescriptorError(`${what} must be 16 bits, got ${v}`);
  return v;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !(o instanceof Map)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/** Fills defaults, assigns string indexes, validates, freezes. Throws DescriptorError. */
export function defineDevice(spec: DeviceSpec | DeviceDescriptor): DeviceDescriptor {
  if (isNormalised(spec)) return spec;
  const strings = new Map<number, string>();
  for (const [k, v] of Object.entries(spec.strings ?? {})) {
    const idx = Number(k);
    if (!Number.isInteger(idx) || idx < 1 || idx > 255) throw new DescriptorError(`string index ${k} out of 1..255`);
    strings.set(idx, v);
  }
  // Explicit indexes are registered first so auto-assignment never takes them.
  const explicit: [number | undefined, string | null | undefined, string][] = [
    [spec.iManufacturer, spec.manufacturer, 'iManufacturer'],
    [spec.iProduct, spec.product, 'iProduct'],
    [spec.iSerialNumber, spec.serialNumber, 'iSerialNumber'],
  ];
  for (const c of spec.configurations ?? []) {
    explicit.push([c.iConfiguration, c.configurationName, 'iConfiguration']);
    for (const i of c.interfaces ?? []) {
      for (const a of 'alternates' in i ? i.alternates : [i]) explicit.push([a.iInterface, a.interfaceName, 'iInterface']);
    }
  }
  for (const [idx, text, what] of explicit) {
    if (idx === undefined) continue;
    u8(idx, what);
    if (idx === 0) {
      if (text != null) throw new DescriptorError(`${what} is 0 (no string) but a string ${JSON.stringify(text)} is given`);
      continue;
    }
    if (text == null) continue;
    const had = strings.get(idx);
    if (had !== undefined && had !== text) {
      throw new DescriptorError(`string index ${idx} given two texts: ${JSON.stringify(had)} and ${JSON.stringify(text)}`);
    }
    strings.set(idx, text);
  }
  const index = (idx: number | undefined, text: string | null | undefined): number => {
    if (idx !== undefined) return idx;
    if (text == null) return 0;
    for (const [k, v] of strings) if (v === text) return k;
    let n = 1;
    while (strings.has(n)) n++;
    if (n > 255) throw new DescriptorError('more than 255 strings');
    strings.set(n, text);
    return n;
  };

  const iManufacturer = index(spec.iManufacturer, spec.manufacturer);
  const iProduct = index(spec.iProduct, spec.product);
  const iSerialNumber = index(spec.iSerialNumber, spec.serialNumber);

  const configurations: ConfigurationDescriptor[] = (spec.configurations ?? [{}]).map((c, ci) => {
    const bConfigurationValue = u8(c.bConfigurationValue ?? ci + 1, 'bConfigurationValue');
    if (bConfigurationValue === 0) throw new DescriptorError('bConfigurationValue 0 means "unconfigured" and cannot name a configuration');
    const interfaces: InterfaceDescriptor[] = (c.interfaces ?? []).map((ispec, ii) => {
      const bInterfaceNumber = u8(ispec.bInterfaceNumber ?? ii, 'bInterfaceNumber');
      const alts = 'alternates' in ispec ? ispec.alternates : [ispec];
      const alternates = alts
        .map((a, ai): AlternateSettingDescriptor => {
          const where = `interface ${bInterfaceNumber} alternate ${a.bAlternateSetting ?? ai}`;
          const endpoints = (a.endpoints ?? []).map((e): EndpointDescriptor => {
            u8(e.bEndpointAddress, `${where}: bEndpointAddress`);
            if ((e.bEndpointAddress & 0x0f) === 0 || (e.bEndpointAddress & 0x70) !== 0) {
              throw new DescriptorError(
                `${where}: bEndpointAddress 0x${e.bEndpointAddress.toString(16)} is not a valid non-zero endpoint`,
              );
            }
            if (!['control', 'isochronous', 'bulk', 'interrupt'].includes(e.type)) {
              throw new DescriptorError(`${where}: unknown endpoint type ${String(e.type)}`);
            }
            const wMaxPacketSize = u16(e.wMaxPacketSize ?? (e.type === 'isochronous' ? 1023 : 64), `${where}: wMaxPacketSize`);
            if ((wMaxPacketSize & 0x7ff) === 0) throw new DescriptorError(`${where}: wMaxPacketSize is 0`);
            return {
              bEndpointAddress: e.bEndpointAddress,
              type: e.type,
              wMaxPacketSize,
              bInterval: u8(e.bInterval ?? (e.type === 'interrupt' || e.type === 'isochronous' ? 1 : 0), `${where}: bInterval`),
            };
          });
          const seen = new Set<number>();
          for (const e of endpoints) {
            if (seen.has(e.bEndpointAddress)) {
              throw new DescriptorError(`${where}: endpoint 0x${e.bEndpointAddress.toString(16)} appears twice`);
            }
            seen.add(e.bEndpointAddress);
          }
          return {
            bAlternateSetting: u8(a.bAlternateSetting ?? ai, `${where}: bAlternateSetting`),
            bInterfaceClass: u8(a.bInterfaceClass ?? 0xff, `${where}: bInterfaceClass`),
            bInterfaceSubClass: u8(a.bInterfaceSubClass ?? 0, `${where}: bInterfaceSubClass`),
            bInterfaceProtocol: u8(a.bInterfaceProtocol ?? 0, `${where}: bInterfaceProtocol`),
            iInterface: index(a.iInterface, a.interfaceName),
            endpoints,
            ...(a.extra !== undefined ? { extra: checkExtra(Array.from(a.extra), where) } : {}),
          };
        })
        .sort((x, y) => x.bAlternateSetting - y.bAlternateSetting);
      for (let k = 1; k < alternates.length; k++) {
        if (alternates[k].bAlternateSetting === alternates[k - 1].bAlternateSetting) {
          throw new DescriptorError(`interface ${bInterfaceNumber}: alternate ${alternates[k].bAlternateSetting} appears twice`);
        }
      }
      if (alternates[0]?.bAlternateSetting !== 0) throw new DescriptorError(`interface ${bInterfaceNumber} has no alternate setting 0`);
      return { bInterfaceNumber, alternates };
    });
    const nums = new Set<number>();
    for (const i of interfaces) {
      if (nums.has(i.bInterfaceNumber)) {
        throw new DescriptorError(`configuration ${bConfigurationValue}: interface ${i.bInterfaceNumber} appears twice`);
      }
      nums.add(i.bInterfaceNumber);
    }
    // One endpoint address belongs to one interface within a configuration.
    const owner = new Map<number, number>();
    for (const i of interfaces) {
      for (const a of i.alternates) {
        for (const e of a.endpoints) {
          const o = owner.get(e.bEndpointAddress);
          if (o !== undefined && o !== i.bInterfaceNumber) {
            throw new DescriptorError(
              `configuration ${bConfigurationValue}: endpoint 0x${e.bEndpointAddress.toString(16)} is in interfaces ${o} and ${i.bInterfaceNumber}`,
            );
          }
          owner.set(e.bEndpointAddress, i.bInterfaceNumber);
        }
      }
    }
    return {
      bConfigurationValue,
      iConfiguration: index(c.iConfiguration, c.configurationName),
      bmAttributes: u8(c.bmAttributes ?? 0x80, 'bmAttributes'),
      maxPowerMa: c.maxPowerMa ?? 100,
      interfaces: interfaces.sort((x, y) => x.bInterfaceNumber - y.bInterfaceNumber),
      ...(c.associations !== undefined ? { associations: c.associations.map((a) => checkAssociation(a, interfaces, bConfigurationValue)) } : {}),
    };
  });
  const values = new Set<number>();
  for (const c of configurations) {
    if (values.has(c.bConfigurationValue)) throw new DescriptorError(`configuration value ${c.bConfigurationValue} appears twice`);
    values.add(c.bConfigurationValue);
  }
  if (configurations.length === 0) throw new DescriptorError('a device needs at least one configuration');

  const bMaxPacketSize0 = u8(spec.bMaxPacketSize0 ?? 64, 'bMaxPacketSize0');
  const bcdUSB = u16(spec.bcdUSB ?? 0x0200, 'bcdUSB');
  // USB 3 encodes ep0's size as an exponent (9 -> 512); earlier versions allow 8/16/32/64.
  if (bcdUSB >= 0x0300 ? bMaxPacketSize0 !== 9 : ![8, 16, 32, 64].includes(bMaxPacketSize0)) {
    throw new DescriptorError(`bMaxPacketSize0 ${bMaxPacketSize0} is not valid for bcdUSB 0x${bcdUSB.toString(16)}`);
  }
  const text = (i: number) => (i === 0 ? null : (strings.get(i) ?? null));
  const d: DeviceDescriptor = {
    bcdUSB,
    bDeviceClass: u8(spec.bDeviceClass ?? 0, 'bDeviceClass'),
    bDeviceSubClass: u8(spec.bDeviceSubClass ?? 0, 'bDeviceSubClass'),
    bDeviceProtocol: u8(spec.bDeviceProtocol ?? 0, 'bDeviceProtocol'),
    bMaxPacketSize0,
    idVendor: u16(spec.idVendor, 'idVendor'),
    idProduct: u16(spec.idProduct, 'idProduct'),
    bcdDevice: u16(spec.bcdDevice ?? 0x0100, 'bcdDevice'),
    iManufacturer,
    iProduct,
    iSerialNumber,
    manufacturer: text(iManufacturer),
    product: text(iProduct),
    serialNumber: text(iSerialNumber),
    configurations,
    strings,
    langIds: (spec.langIds ?? [0x0409]).map((l) => u16(l, 'langId')),
  };
  normalised.add(d);
  return deepFreeze(d);
}

/** Class-specific descriptor bytes: whole descriptors (bLength >= 2, bytes) filling the array exactly. */
function checkExtra(bytes: number[], where: string): number[] {
  for (let at = 0; at < bytes.length; ) {
    const len = bytes[at];
    if (!(len >= 2) || at + len > bytes.length) throw new DescriptorError(`${where}: extra descriptor at offset ${at} has bad bLength ${len}`);
    at += len;
  }
  bytes.forEach((b, k) => u8(b, `${where}: extra byte ${k}`));
  return bytes;
}

function checkAssociation(a: InterfaceAssociationDescriptor, interfaces: InterfaceDescriptor[], config: number): InterfaceAssociationDescriptor {
  const where = `configuration ${config}: association at interface ${a.bFirstInterface}`;
  if (!(a.bInterfaceCount >= 1)) throw new DescriptorError(`${where}: bInterfaceCount must be at least 1`);
  for (let n = a.bFirstInterface; n < a.bFirstInterface + a.bInterfaceCount; n++) {
    if (!interfaces.some((i) => i.bInterfaceNumber === n)) throw new DescriptorError(`${where}: interface ${n} does not exist`);
  }
  return {
    bFirstInterface: u8(a.bFirstInterface, `${where}: bFirstInterface`),
    bInterfaceCount: u8(a.bInterfaceCount, `${where}: bInterfaceCount`),
    bFunctionClass: u8(a.bFunctionClass, `${where}: bFunctionClass`),
    bFunctionSubClass: u8(a.bFunctionSubClass, `${where}: bFunctionSubClass`),
    bFunctionProtocol: u8(a.bFunctionProtocol, `${where}: bFunctionProtocol`),
    iFunction: u8(a.iFunction, `${where}: iFunction`),
  };
}

const normalised = new WeakSet<object>();
function isNormalised(x: DeviceSpec | DeviceDescriptor): x is DeviceDescriptor {
  return normalised.has(x);
}

// ---- WebUSB view --------------------------------------------------------------------------

/** major.minor.subminor from a BCD field, the way WebUSB splits bcdUSB and bcdDevice. */
export function bcdVersion(bcd: number): { major: number; minor: number; subminor: number } {
  return { major: bcd >> 8, minor: (bcd >> 4) & 0xf, subminor: bcd & 0xf };
}

/** Live interface state the WebUSB objects read (claimed, current alternate). */
export interface InterfaceStateSource {
  isClaimed(interfaceNumber: number): boolean;
  currentAlternate(interfaceNumber: number): number;
}

const noState: InterfaceStateSource = { isClaimed: () => false, currentAlternate: () => 0 };

/** The WebUSB USBEndpoint for a descriptor, or null for control endpoints (WebUSB has no such type). */
export function toWebUsbEndpoint(e: EndpointDescriptor): USBEndpoint | null {
  if (e.type === 'control') return null;
  return Object.freeze({
    endpointNumber: e.bEndpointAddress & 0x0f,
    direction: e.bEndpointAddress & 0x80 ? 'in' : 'out',
    type: e.type,
    // High-bandwidth bits 11-12 multiply the packet count, not the packet size.
    packetSize: e.wMaxPacketSize & 0x7ff,
  } satisfies USBEndpoint);
}

/**
 * Builds a USBConfiguration as a WebUSB USBDevice exposes it. `claimed` and `alternate` are
 * getters over `state`, so the objects stay live the way a browser's do.
 */
export function toWebUsbConfiguration(
  device: DeviceDescriptor,
  config: ConfigurationDescriptor,
  state: InterfaceStateSource = noState,
): USBConfiguration {
  const str = (i: number) => (i === 0 ? null : (device.strings.get(i) ?? null));
  const interfaces = config.interfaces.map((i) => {
    const alternates: USBAlternateInterface[] = i.alternates.map((a) =>
      Object.freeze({
        alternateSetting: a.bAlternateSetting,
        interfaceClass: a.bInterfaceClass,
        interfaceSubclass: a.bInterfaceSubClass,
        interfaceProtocol: a.bInterfaceProtocol,
        interfaceName: str(a.iInterface),
        endpoints: Object.freeze(
          a.endpoints.map(toWebUsbEndpoint).filter((e): e is USBEndpoint => e !== null),
        ) as USBEndpoint[],
      }),
    );
    const iface: USBInterface = {
      interfaceNumber: i.bInterfaceNumber,
      get alternate() {
        const cur = state.currentAlternate(i.bInterfaceNumber);
        return alternates.find((a) => a.alternateSetting === cur) ?? alternates[0];
      },
      alternates: Object.freeze(alternates) as USBAlternateInterface[],
      get claimed() {
        return state.isClaimed(i.bInterfaceNumber);
      },
    };
    return Object.freeze(iface);
  });
  return Object.freeze({
    configurationValue: config.bConfigurationValue,
    configurationName: str(config.iConfiguration),
    interfaces: Object.freeze(interfaces) as USBInterface[],
  });
}

// ---- wire encodings (what GET_DESCRIPTOR returns) -----------------------------------------

export const DescriptorType = {
  DEVICE: 1,
  CONFIGURATION: 2,
  STRING: 3,
  INTERFACE: 4,
  ENDPOINT: 5,
  DEVICE_QUALIFIER: 6,
  INTERFACE_ASSOCIATION: 0x0b,
} as const;

/** The 18-byte device descriptor. */
export function encodeDeviceDescriptor(d: DeviceDescriptor): Uint8Array {
  return new Uint8Array([
    18,
    DescriptorType.DEVICE,
    d.bcdUSB & 0xff,
    d.bcdUSB >> 8,
    d.bDeviceClass,
    d.bDeviceSubClass,
    d.bDeviceProtocol,
    d.bMaxPacketSize0,
    d.idVendor & 0xff,
    d.idVendor >> 8,
    d.idProduct & 0xff,
    d.idProduct >> 8,
    d.bcdDevice & 0xff,
    d.bcdDevice >> 8,
    d.iManufacturer,
    d.iProduct,
    d.iSerialNumber,
    d.configurations.length,
  ]);
}

const transferTypeBits: Record<EndpointTransferType, number> = { control: 0, isochronous: 1, bulk: 2, interrupt: 3 };

/** The configuration descriptor followed by its interface and endpoint descriptors (wTotalLength bytes). */
export function encodeConfigurationDescriptor(c: ConfigurationDescriptor, bcdUSB = 0x0200): Uint8Array {
  const body: number[] = [];
  for (const i of c.interfaces) {
    for (const f of c.associations ?? []) {
      if (f.bFirstInterface !== i.bInterfaceNumber) continue;
      body.push(8, DescriptorType.INTERFACE_ASSOCIATION, f.bFirstInterface, f.bInterfaceCount);
      body.push(f.bFunctionClass, f.bFunctionSubClass, f.bFunctionProtocol, f.iFunction);
    }
    for (const a of i.alternates) {
      body.push(9, DescriptorType.INTERFACE, i.bInterfaceNumber, a.bAlternateSetting, a.endpoints.length);
      body.push(a.bInterfaceClass, a.bInterfaceSubClass, a.bInterfaceProtocol, a.iInterface);
      if (a.extra) body.push(...a.extra);
      for (const e of a.endpoints) {
        body.push(7, DescriptorType.ENDPOINT, e.bEndpointAddress, transferTypeBits[e.type]);
        body.push(e.wMaxPacketSize & 0xff, e.wMaxPacketSize >> 8, e.bInterval);
      }
    }
  }
  const total = 9 + body.length;
  const unit = bcdUSB >= 0x0300 ? 8 : 2;
  return new Uint8Array([
    9,
    DescriptorType.CONFIGURATION,
    total & 0xff,
    total >> 8,
    c.interfaces.length,
    c.bConfigurationValue,
    c.iConfiguration,
    c.bmAttributes,
    Math.min(255, Math.ceil(c.maxPowerMa / unit)),
    ...body,
  ]);
}

/** A string descriptor (UTF-16LE), or the LANGID list for index 0. */
export function encodeStringDescriptor(text: string): Uint8Array {
  const n = Math.min(text.length, 126);
  const out = new Uint8Array(2 + 2 * n);
  out[0] = out.length;
  out[1] = DescriptorType.STRING;
  for (let k = 0; k < n; k++) {
    const c = text.charCodeAt(k);
    out[2 + 2 * k] = c & 0xff;
    out[3 + 2 * k] = c >> 8;
  }
  return out;
}

export function encodeLangIds(langIds: readonly number[]): Uint8Array {
  const out = new Uint8Array(2 + 2 * langIds.length);
  out[0] = out.length;
  out[1] = DescriptorType.STRING;
  langIds.forEach((l, k) => {
    out[2 + 2 * k] = l & 0xff;
    out[3 + 2 * k] = l >> 8;
  });
  return out;
}

/** Finds the interface and alternate an endpoint address belongs to in a configuration. */
export function findEndpoint(
  config: ConfigurationDescriptor,
  endpointAddress: number,
  alternateOf: (interfaceNumber: number) => number = () => 0,
): { iface: InterfaceDescriptor; alternate: AlternateSettingDescriptor; endpoint: EndpointDescriptor } | undefined {
  for (const iface of config.interfaces) {
    const alternate = iface.alternates.find((a) => a.bAlternateSetting === alternateOf(iface.bInterfaceNumber));
    const endpoint = alternate?.endpoints.find((e) => e.bEndpointAddress === endpointAddress);
    if (alternate && endpoint) return { iface, alternate, endpoint };
  }
  return undefined;
}
