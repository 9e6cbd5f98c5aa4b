// A descriptor set from the text `lsusb -v` prints, so a real dongle's descriptors can be
// pasted into a test. It reads the Device, Configuration, Interface and Endpoint descriptor
// blocks by indentation, plus the CDC functional descriptors (Header, Call Management, ACM,
// Union: kept as class-specific bytes after their interface) and Interface Association blocks,
// and skips everything else (other class-specific blocks, Device Qualifier, Device Status, BOS,
// hub and HID descriptors).
import {
  defineDevice,
  type AlternateSpec,
  type ConfigurationSpec,
  type DeviceDescriptor,
  type EndpointTransferType,
} from './descriptors.ts';
import { MockUsbDevice, type MockBehaviour, type MockUsbDeviceOptions } from './device.ts';
import { DescriptorError, LsusbParseError } from './errors.ts';

export interface LsusbDevice {
  readonly descriptor: DeviceDescriptor;
  /** From the `Bus 001 Device 005: ID ...` line, when present. */
  readonly busNumber?: number;
  readonly deviceNumber?: number;
  /** 1-based line of the device's first line. */
  readonly line: number;
}

interface Line {
  no: number;
  raw: string;
  indent: number;
  text: string;
}

type Fields = Map<string, { value: string; line: Line }>;

interface EndpointBlock {
  line: Line;
  fields: Fields;
}
interface InterfaceBlock {
  line: Line;
  fields: Fields;
  endpoints: EndpointBlock[];
  cdc: CdcBlock[];
}
interface CdcBlock {
  name: string;
  line: Line;
  fields: Fields;
}
interface ConfigBlock {
  line: Line;
  fields: Fields;
  interfaces: InterfaceBlock[];
  associations: EndpointBlock[];
}
interface DeviceBlock {
  line: Line;
  busNumber?: number;
  deviceNumber?: number;
  fields?: Fields;
  headerLine?: Line;
  configs: ConfigBlock[];
}

type Context =
  | { kind: 'device'; indent: number; block: DeviceBlock }
  | { kind: 'config'; indent: number; block: ConfigBlock }
  | { kind: 'interface'; indent: number; block: InterfaceBlock }
  | { kind: 'endpoint'; indent: number; block: EndpointBlock }
  | { kind: 'fields'; indent: number; block: { fields: Fields } }
  | { kind: 'skip'; indent: number };

/** CDC functional descriptors lsusb prints, by block name: their subtype (CDC 1.2 Table 13). */
const CDC_BLOCKS: ReadonlyMap<string, number> = new Map([
  ['CDC Header', 0x00],
  ['CDC Call Management', 0x01],
  ['CDC ACM', 0x02],
  ['CDC Union', 0x06],
]);

const BUS_LINE = /^Bus (\d+) Device (\d+): ID ([0-9a-fA-F]{4}):([0-9a-fA-F]{4})/;
const MULTIWORD = ['Transfer Type', 'Synch Type', 'Usage Type'];

/** Parses the single device in `lsusb -v` (or `lsusb -v -d vid:pid`) output. */
export function parseLsusb(text: string): DeviceDescriptor {
  const all = parseLsusbAll(text);
  if (all.length !== 1) {
    throw new LsusbParseError(all[1].line, text.split(/\r?\n/)[all[1].line - 1] ?? '', `the text holds ${all.length} devices; use parseLsusbAll`);
  }
  return all[0].descriptor;
}

/** Parses every device in `lsusb -v` output, in order. */
export function parseLsusbAll(text: string): LsusbDevice[] {
  const lines: Line[] = text.split(/\r?\n/).map((raw, i) => {
    const expanded = raw.replace(/\t/g, '        ');
    const text = expanded.trim();
    return { no: i + 1, raw, indent: expanded.length - expanded.trimStart().length, text };
  });
  const devices: DeviceBlock[] = [];
  let dev: DeviceBlock | undefined;
  let stack: Context[] = [];

  for (const line of lines) {
    if (line.text === '') continue;
    const bus = BUS_LINE.exec(line.text);
    if (bus && line.indent === 0) {
      dev = { line, busNumber: Number(bus[1]), deviceNumber: Number(bus[2]), configs: [] };
      devices.push(dev);
      stack = [];
      continue;
    }
    while (stack.length > 0 && stack[stack.length - 1].indent >= line.indent) stack.pop();
    const top = stack[stack.length - 1];
    const header = /^([^:]+):\s*(\S.*)?$/.exec(line.text);
    const isHeader = header !== null && !/^\S+\s{2,}/.test(line.text) && (header[2] === undefined || /^[A-Z].*Status$/.test(header[1]));

    if (isHeader) {
      const name = header[1].trim();
      if (top?.kind === 'skip') {
        stack.push({ kind: 'skip', indent: line.indent });
        continue;
      }
      if (name === 'Device Descriptor') {
        if (top) throw new LsusbParseError(line.no, line.raw, 'Device Descriptor nested inside another block');
        if (!dev || dev.fields) {
          dev = { line, configs: [] };
          devices.push(dev);
        }
        dev.fields = new Map();
        dev.headerLine = line;
        stack = [{ kind: 'device', indent: line.indent, block: dev }];
      } else if (name === 'Configuration Descriptor') {
        if (top?.kind !== 'device') throw new LsusbParseError(line.no, line.raw, 'Configuration Descriptor outside a Device Descriptor');
        const block: ConfigBlock = { line, fields: new Map(), interfaces: [], associations: [] };
        top.block.configs.push(block);
        stack.push({ kind: 'config', indent: line.indent, block });
      } else if (name === 'Interface Descriptor') {
        if (top?.kind !== 'config') throw new LsusbParseError(line.no, line.raw, 'Interface Descriptor outside a Configuration Descriptor');
        const block: InterfaceBlock = { line, fields: new Map(), endpoints: [], cdc: [] };
        top.block.interfaces.push(block);
        stack.push({ kind: 'interface', indent: line.indent, block });
      } else if (name === 'Endpoint Descriptor') {
        if (top?.kind !== 'interface') throw new LsusbParseError(line.no, line.raw, 'Endpoint Descriptor outside an Interface Descriptor');
        const block: EndpointBlock = { line, fields: new Map() };
        top.block.endpoints.push(block);
        stack.push({ kind: 'endpoint', indent: line.indent, block });
      } else if (name === 'Interface Association' && top?.kind === 'config') {
        const block: EndpointBlock = { line, fields: new Map() };
        top.block.associations.push(block);
        stack.push({ kind: 'fields', indent: line.indent, block });
      } else if (CDC_BLOCKS.has(name) && top?.kind === 'interface') {
        const block: CdcBlock = { name, line, fields: new Map() };
        top.block.cdc.push(block);
        stack.push({ kind: 'fields', indent: line.indent, block });
      } else {
        // Other class-specific blocks, Device Qualifier, ...
        stack.push({ kind: 'skip', indent: line.indent });
      }
      continue;
    }

    if (!top) {
      // Top-level chatter: "Couldn't open device, ...", "can't get debug descriptor: ...".
      continue;
    }
    if (top.kind === 'skip') continue;
    const multi = MULTIWORD.find((m) => line.text.startsWith(`${m} `));
    const m = multi ? [line.text, multi, line.text.slice(multi.length).trim()] : /^(\S+)\s*(.*)$/.exec(line.text);
    if (!m) continue;
    const fields = top.block.fields!;
    if (!fields.has(m[1])) fields.set(m[1], { value: m[2].trim(), line });
  }

  if (devices.length === 0 || devices.every((d) => !d.fields)) {
    const first = lines.find((l) => l.text !== '');
    throw new LsusbParseError(first?.no ?? 1, first?.raw ?? '', 'no "Device Descriptor:" block found');
  }
  return devices.map(build);
}

/** A MockUsbDevice with the descriptors of `lsusb -v` text. */
export function mockDeviceFromLsusb(text: string, behaviour?: MockBehaviour, options?: MockUsbDeviceOptions): MockUsbDevice {
  return new MockUsbDevice(parseLsusb(text), behaviour, options);
}

// ---- building ----

function field(fields: Fields, name: string, owner: Line, required: true): { value: string; line: Line };
function field(fields: Fields, name: string, owner: Line, required?: false): { value: string; line: Line } | undefined;
function field(fields: Fields, name: string, owner: Line, required = false) {
  const f = fields.get(name);
  if (!f && required) throw new LsusbParseError(owner.no, owner.raw, `${name} missing in this block`);
  return f;
}

function num(fields: Fields, name: string, owner: Line, required = false): number | undefined {
  const f = required ? field(fields, name, owner, true) : field(fields, name, owner);
  if (!f) return undefined;
  const tok = f.value.split(/\s+/)[0] ?? '';
  const v = /^0x[0-9a-f]+$/i.test(tok) ? parseInt(tok, 16) : /^\d+$/.test(tok) ? parseInt(tok, 10) : NaN;
  if (Number.isNaN(v)) throw new LsusbParseError(f.line.no, f.line.raw, `${name}: ${JSON.stringify(tok)} is not a number`);
  return v;
}

/** `2.00` -> 0x0200, `1.10` -> 0x0110: lsusb prints BCD fields as major.minor hex digits. */
function bcd(fields: Fields, name: string, owner: Line): number | undefined {
  const f = field(fields, name, owner);
  if (!f) return undefined;
  const m = /^([0-9a-f]{1,2})\.([0-9a-f]{2})$/i.exec(f.value.split(/\s+/)[0] ?? '');
  if (!m) throw new LsusbParseError(f.line.no, f.line.raw, `${name}: ${JSON.stringify(f.value)} is not a BCD version like 2.00`);
  return (parseInt(m[1], 16) << 8) | parseInt(m[2], 16);
}

/** `iProduct  2 FT232R USB UART` -> index 2 and its string (absent when lsusb could not read it). */
function stringRef(fields: Fields, name: string, owner: Line): { index?: number; text?: string } {
  const index = num(fields, name, owner);
  if (index === undefined) return {};
  const rest = fields.get(name)!.value.replace(/^\S+\s*/, '');
  return { index, text: index !== 0 && rest !== '' ? rest : undefined };
}

const transferTypes: EndpointTransferType[] = ['control', 'isochronous', 'bulk', 'interrupt'];

function build(d: DeviceBlock): LsusbDevice {
  if (!d.fields || !d.headerLine) throw new LsusbParseError(d.line.no, d.line.raw, 'device without a "Device Descriptor:" block');
  const f = d.fields;
  const h = d.headerLine;
  const manufacturer = stringRef(f, 'iManufacturer', h);
  const product = stringRef(f, 'iProduct', h);
  const serial = stringRef(f, 'iSerial', h);
  const configurations = d.configs.map((c): ConfigurationSpec => {
    const cfgName = stringRef(c.fields, 'iConfiguration', c.line);
    const power = field(c.fields, 'MaxPower', c.line);
    let maxPowerMa: number | undefined;
    if (power) {
      const pm = /^(\d+)\s*mA$/i.exec(power.value);
      if (!pm) throw new LsusbParseError(power.line.no, power.line.raw, `MaxPower: ${JSON.stringify(power.value)} is not like 90mA`);
      maxPowerMa = Number(pm[1]);
    }
    // Interface Descriptor blocks are alternates; group them by interface number, keeping order.
    const byNumber = new Map<number, { bInterfaceNumber: number; alternates: AlternateSpec[] }>();
    for (const i of c.interfaces) {
      const n = num(i.fields, 'bInterfaceNumber', i.line, true)!;
      const declared = num(i.fields, 'bNumEndpoints', i.line);
      if (declared !== undefined && declared !== i.endpoints.length) {
        throw new LsusbParseError(i.line.no, i.line.raw, `bNumEndpoints says ${declared} but ${i.endpoints.length} Endpoint Descriptors follow`);
      }
      const name = stringRef(i.fields, 'iInterface', i.line);
      const endpoints = i.endpoints.map((e) => {
        const bEndpointAddress = num(e.fields, 'bEndpointAddress', e.line, true)!;
        const attrs = num(e.fields, 'bmAttributes', e.line);
        const tt = field(e.fields, 'Transfer Type', e.line);
        let type: EndpointTransferType | undefined = attrs !== undefined ? transferTypes[attrs & 3] : undefined;
        if (tt) {
          const named = transferTypes.find((t) => t === tt.value.toLowerCase());
          if (!named) throw new LsusbParseError(tt.line.no, tt.line.raw, `unknown Transfer Type ${JSON.stringify(tt.value)}`);
          if (type && type !== named) throw new LsusbParseError(tt.line.no, tt.line.raw, `Transfer Type ${tt.value} disagrees with bmAttributes ${attrs}`);
          type = named;
        }
        if (!type) throw new LsusbParseError(e.line.no, e.line.raw, 'endpoint without bmAttributes or Transfer Type');
        return {
          bEndpointAddress,
          type,
          wMaxPacketSize: num(e.fields, 'wMaxPacketSize', e.line, true)!,
          bInterval: num(e.fields, 'bInterval', e.line) ?? 0,
        };
      });
      const extra: number[] = [];
      for (const b of i.cdc) {
        const sub = CDC_BLOCKS.get(b.name)!;
        const n8 = (k: string) => num(b.fields, k, b.line, true)! & 0xff;
        if (sub === 0x00) {
          const v = bcd(b.fields, 'bcdCDC', b.line);
          if (v === undefined) throw new LsusbParseError(b.line.no, b.line.raw, 'bcdCDC missing in this block');
          extra.push(5, 0x24, sub, v & 0xff, v >> 8);
        } else if (sub === 0x01) extra.push(5, 0x24, sub, n8('bmCapabilities'), n8('bDataInterface'));
        else if (sub === 0x02) extra.push(4, 0x24, sub, n8('bmCapabilities'));
        else extra.push(5, 0x24, sub, n8('bMasterInterface'), n8('bSlaveInterface'));
      }
      const alt: AlternateSpec = {
        ...(i.cdc.length > 0 ? { extra } : {}),
        bAlternateSetting: num(i.fields, 'bAlternateSetting', i.line) ?? 0,
        bInterfaceClass: num(i.fields, 'bInterfaceClass', i.line) ?? 0,
        bInterfaceSubClass: num(i.fields, 'bInterfaceSubClass', i.line) ?? 0,
        bInterfaceProtocol: num(i.fields, 'bInterfaceProtocol', i.line) ?? 0,
        iInterface: name.index,
        interfaceName: name.text,
        endpoints,
      };
      const entry = byNumber.get(n) ?? { bInterfaceNumber: n, alternates: [] };
      entry.alternates.push(alt);
      byNumber.set(n, entry);
    }
    const declared = num(c.fields, 'bNumInterfaces', c.line);
    if (declared !== undefined && declared !== byNumber.size) {
      throw new LsusbParseError(c.line.no, c.line.raw, `bNumInterfaces says ${declared} but ${byNumber.size} interfaces follow`);
    }
    return {
      bConfigurationValue: num(c.fields, 'bConfigurationValue', c.line, true)!,
      iConfiguration: cfgName.index,
      configurationName: cfgName.text,
      bmAttributes: num(c.fields, 'bmAttributes', c.line),
      maxPowerMa,
      interfaces: [...byNumber.values()],
      ...(c.associations.length > 0
        ? {
            associations: c.associations.map((a) => ({
              bFirstInterface: num(a.fields, 'bFirstInterface', a.line, true)!,
              bInterfaceCount: num(a.fields, 'bInterfaceCount', a.line, true)!,
              bFunctionClass: num(a.fields, 'bFunctionClass', a.line) ?? 0,
              bFunctionSubClass: num(a.fields, 'bFunctionSubClass', a.line) ?? 0,
              bFunctionProtocol: num(a.fields, 'bFunctionProtocol', a.line) ?? 0,
              iFunction: num(a.fields, 'iFunction', a.line) ?? 0,
            })),
          }
        : {}),
    };
  });
  const declared = num(f, 'bNumConfigurations', h);
  if (declared !== undefined && declared !== configurations.length) {
    throw new LsusbParseError(h.no, h.raw, `bNumConfigurations says ${declared} but ${configurations.length} Configuration Descriptors follow`);
  }
  if (configurations.length === 0) throw new LsusbParseError(h.no, h.raw, 'no Configuration Descriptor in this device');
  try {
    const descriptor = defineDevice({
      bcdUSB: bcd(f, 'bcdUSB', h),
      bDeviceClass: num(f, 'bDeviceClass', h),
      bDeviceSubClass: num(f, 'bDeviceSubClass', h),
      bDeviceProtocol: num(f, 'bDeviceProtocol', h),
      bMaxPacketSize0: num(f, 'bMaxPacketSize0', h),
      idVendor: num(f, 'idVendor', h, true)!,
      idProduct: num(f, 'idProduct', h, true)!,
      bcdDevice: bcd(f, 'bcdDevice', h),
      iManufacturer: manufacturer.index,
      manufacturer: manufacturer.text,
      iProduct: product.index,
      product: product.text,
      iSerialNumber: serial.index,
      serialNumber: serial.text,
      configurations,
    });
    return { descriptor, busNumber: d.busNumber, deviceNumber: d.deviceNumber, line: d.line.no };
  } catch (err) {
    if (err instanceof DescriptorError) throw new LsusbParseError(h.no, h.raw, `descriptor not valid: ${err.message}`);
    throw err;
  }
}
