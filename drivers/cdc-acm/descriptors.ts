// Walks a raw configuration descriptor (what GET_DESCRIPTOR(CONFIGURATION) returns, wTotalLength
// bytes) and finds the CDC ACM functions in it the way Linux's cdc-acm.c `acm_probe` does:
// - class-specific descriptors (CS_INTERFACE 0x24) follow their interface descriptor; when there
//   are none there, those after the interface's first endpoint are used (Linux looks in the
//   endpoint's extra bytes too);
// - the union descriptor names the control (master) and data (first slave) interfaces; without
//   one: the NO_UNION_NORMAL / NO_UNION_12 quirks fix the numbers; else the call-management
//   descriptor's bDataInterface; else an interface with three endpoints is taken as control and
//   data at once ("combined"); else the function is refused;
// - no class-specific descriptors at all is refused unless a NO_UNION quirk applies;
// - a data interface that is not class 0x0A while the control one is gets the two swapped;
// - the data interface needs a bulk IN and a bulk OUT, the control interface an interrupt IN.
// Interface association descriptors (IAD, type 0x0B) are collected; Linux does not need them.
import type { AcmQuirk } from './quirks.ts';

export const USB_DT = Object.freeze({ CONFIG: 0x02, INTERFACE: 0x04, ENDPOINT: 0x05, IAD: 0x0b, CS_INTERFACE: 0x24 } as const);
export const CDC_SUBTYPE = Object.freeze({ HEADER: 0x00, CALL_MANAGEMENT: 0x01, ACM: 0x02, UNION: 0x06 } as const);
export const ACM_CAP = Object.freeze({ COMM_FEATURE: 0x01, LINE: 0x02, BRK: 0x04, NETWORK: 0x08 } as const);
export const USB_CLASS_COMM = 0x02;
export const USB_CLASS_CDC_DATA = 0x0a;
export const USB_CDC_SUBCLASS_ACM = 0x02;

export class AcmDescriptorError extends Error {
  override readonly name = 'AcmDescriptorError';
}

export interface RawEndpoint {
  readonly address: number;
  readonly type: 'control' | 'isochronous' | 'bulk' | 'interrupt';
  readonly maxPacketSize: number;
  readonly interval: number;
  /** Descriptors after this endpoint, up to the next interface or endpoint. */
  readonly extra: readonly Uint8Array[];
}

export interface RawInterface {
  readonly number: number;
  readonly alternate: number;
  readonly cls: number;
  readonly subclass: number;
  readonly protocol: number;
  readonly iInterface: number;
  readonly endpoints: readonly RawEndpoint[];
  /** Descriptors between this interface descriptor and its first endpoint. */
  readonly extra: readonly Uint8Array[];
}

export interface RawAssociation {
  readonly firstInterface: number;
  readonly interfaceCount: number;
  readonly cls: number;
  readonly subclass: number;
  readonly protocol: number;
  readonly iFunction: number;
}

export interface RawConfiguration {
  readonly value: number;
  readonly interfaces: readonly RawInterface[];
  readonly associations: readonly RawAssociation[];
}

const TYPES = ['control', 'isochronous', 'bulk', 'interrupt'] as const;

/** Splits a configuration descriptor into interfaces (alternate settings), endpoints and their extras. */
export function walkConfiguration(bytes: Uint8Array): RawConfiguration {
  if (bytes.length < 9 || bytes[1] !== USB_DT.CONFIG) throw new AcmDescriptorError('not a configuration descriptor');
  const total = bytes[2] | (bytes[3] << 8);
  if (total > bytes.length) throw new AcmDescriptorError(`wTotalLength ${total} but only ${bytes.length} bytes`);
  const interfaces: { ifc: Omit<RawInterface, 'endpoints' | 'extra'>; endpoints: (Omit<RawEndpoint, 'extra'> & { extra: Uint8Array[] })[]; extra: Uint8Array[] }[] = [];
  const associations: RawAssociation[] = [];
  for (let at = bytes[0]; at < total; ) {
    const len = bytes[at];
    if (len < 2 || at + len > total) throw new AcmDescriptorError(`descriptor at offset ${at} has bad bLength ${len}`);
    const d = bytes.subarray(at, at + len);
    const type = d[1];
    const cur = interfaces[interfaces.length - 1];
    if (type === USB_DT.INTERFACE) {
      if (len < 9) throw new AcmDescriptorError(`interface descriptor at offset ${at} is ${len} bytes`);
      interfaces.push({ ifc: { number: d[2], alternate: d[3], cls: d[5], subclass: d[6], protocol: d[7], iInterface: d[8] }, endpoints: [], extra: [] });
    } else if (type === USB_DT.ENDPOINT) {
      if (len < 7) throw new AcmDescriptorError(`endpoint descriptor at offset ${at} is ${len} bytes`);
      if (!cur) throw new AcmDescriptorError(`endpoint descriptor at offset ${at} before any interface`);
      cur.endpoints.push({ address: d[2], type: TYPES[d[3] & 3], maxPacketSize: (d[4] | (d[5] << 8)) & 0x7ff, interval: d[6], extra: [] });
    } else if (type === USB_DT.IAD) {
      if (len < 8) throw new AcmDescriptorError(`interface association at offset ${at} is ${len} bytes`);
      associations.push({ firstInterface: d[2], interfaceCount: d[3], cls: d[4], subclass: d[5], protocol: d[6], iFunction: d[7] });
    } else if (cur) {
      const ep = cur.endpoints[cur.endpoints.length - 1];
      (ep ? ep.extra : cur.extra).push(d.slice());
    }
    at += len;
  }
  return {
    value: bytes[5],
    interfaces: interfaces.map((i) => ({ ...i.ifc, endpoints: i.endpoints, extra: i.extra })),
    associations,
  };
}

export interface CdcFunctionalDescriptors {
  bcdCDC: number | null;
  /** ACM bmCapabilities (0 without an ACM descriptor). */
  acmCapabilities: number | null;
  callManagement: { capabilities: number; dataInterface: number } | null;
  union: { master: number; slaves: number[] } | null;
}

/** Parses the CS_INTERFACE descriptors of an interface (`cdc_parse_cdc_header`): the first of each kind counts. */
export function parseCdcFunctional(extra: readonly Uint8Array[]): CdcFunctionalDescriptors {
  const out: CdcFunctionalDescriptors = { bcdCDC: null, acmCapabilities: null, callManagement: null, union: null };
  for (const d of extra) {
    if (d[1] !== USB_DT.CS_INTERFACE || d.length < 3) continue;
    switch (d[2]) {
      case CDC_SUBTYPE.HEADER:
        if (d.length >= 5 && out.bcdCDC === null) out.bcdCDC = d[3] | (d[4] << 8);
        break;
      case CDC_SUBTYPE.CALL_MANAGEMENT:
        if (d.length >= 5 && !out.callManagement) out.callManagement = { capabilities: d[3], dataInterface: d[4] };
        break;
      case CDC_SUBTYPE.ACM:
        if (d.length >= 4 && out.acmCapabilities === null) out.acmCapabilities = d[3];
        break;
      case CDC_SUBTYPE.UNION:
        if (d.length >= 5 && !out.union) out.union = { master: d[3], slaves: [...d.subarray(4)] };
        break;
    }
  }
  return out;
}

export type AcmFoundBy = 'union' | 'quirk' | 'call-management' | 'combined';

export interface AcmFunction {
  readonly controlInterface: number;
  readonly dataInterface: number;
  /** Control and data are one interface with three endpoints. */
  readonly combined: boolean;
  readonly foundBy: AcmFoundBy;
  /** The interfaces were swapped because the union named them the wrong way round. */
  readonly swapped: boolean;
  readonly notifyEndpoint: RawEndpoint;
  readonly bulkIn: RawEndpoint;
  readonly bulkOut: RawEndpoint;
  /** bmCapabilities after quirks (NO_CAP_LINE clears LINE, MISSING_CAP_BRK adds BRK). */
  readonly capabilities: number;
  readonly functional: CdcFunctionalDescriptors;
  /** The IAD grouping the control interface, if any. */
  readonly association: RawAssociation | null;
}

/**
 * The ACM function whose probe would start at interface `probed` (alternate 0): the control
 * interface, or, for a combined device, its only interface. Throws AcmDescriptorError with Linux's
 * reason when acm_probe would refuse it (ENODEV/EINVAL there).
 */
export function findAcmFunction(config: RawConfiguration, probed: number, quirks: readonly AcmQuirk[] = []): AcmFunction {
  const alt0 = (n: number) => config.interfaces.find((i) => i.number === n && i.alternate === 0);
  const intf = alt0(probed);
  if (!intf) throw new AcmDescriptorError(`no interface ${probed}`);
  let extra = intf.extra;
  if (extra.length === 0 && intf.endpoints[0]) extra = intf.endpoints[0].extra;
  const functional = parseCdcFunctional(extra);
  const hasClassDescriptors = extra.some((d) => d[1] === USB_DT.CS_INTERFACE);
  let control: RawInterface | undefined;
  let data: RawInterface | undefined;
  let foundBy: AcmFoundBy;
  let combined = false;
  if (quirks.includes('NO_UNION_NORMAL')) {
    control = alt0(0);
    data = alt0(1);
    foundBy = 'quirk';
    if (!control || !data) throw new AcmDescriptorError('NO_UNION_NORMAL needs interfaces 0 and 1');
  } else if (!hasClassDescriptors) {
    throw new AcmDescriptorError(`interface ${probed} has no class-specific descriptors`);
  } else if (functional.union) {
    control = alt0(functional.union.master);
    data = alt0(functional.union.slaves[0] ?? -1);
    foundBy = 'union';
  } else if (quirks.includes('NO_UNION_12')) {
    control = alt0(1);
    data = alt0(2);
    foundBy = 'quirk';
  } else if (functional.callManagement) {
    control = intf;
    data = alt0(functional.callManagement.dataInterface);
    foundBy = 'call-management';
  } else if (intf.endpoints.length === 3) {
    control = data = intf;
    combined = true;
    foundBy = 'combined';
  } else {
    throw new AcmDescriptorError(`interface ${probed}: no union descriptor, no call management descriptor, and not 3 endpoints`);
  }
  if (!control || !data) throw new AcmDescriptorError(`interface ${probed}: the interfaces the descriptors name do not exist`);
  let swapped = false;
  if (!combined && data.cls !== USB_CLASS_CDC_DATA) {
    if (control.cls !== USB_CLASS_CDC_DATA) throw new AcmDescriptorError(`interface ${data.number} is not a CDC data interface`);
    [control, data] = [data, control];
    swapped = true;
  }
  if (!combined && control.number !== probed && foundBy !== 'quirk') {
    throw new AcmDescriptorError(`interface ${probed} is not the control interface (${control.number} is)`);
  }
  let notify: RawEndpoint | undefined;
  let bulkIn: RawEndpoint | undefined;
  let bulkOut: RawEndpoint | undefined;
  if (combined) {
    notify = intf.endpoints.find((e) => e.type === 'interrupt' && e.address & 0x80);
    bulkIn = intf.endpoints.find((e) => e.type === 'bulk' && e.address & 0x80);
    bulkOut = intf.endpoints.find((e) => e.type === 'bulk' && !(e.address & 0x80));
  } else {
    if (data.endpoints.length < 2 || control.endpoints.length === 0) {
      throw new AcmDescriptorError(`data interface ${data.number} needs 2 endpoints and control interface ${control.number} one`);
    }
    notify = control.endpoints[0];
    [bulkIn, bulkOut] = data.endpoints[0].address & 0x80 ? [data.endpoints[0], data.endpoints[1]] : [data.endpoints[1], data.endpoints[0]];
  }
  if (!notify || notify.type !== 'interrupt' || !(notify.address & 0x80)) throw new AcmDescriptorError('no interrupt IN endpoint for notifications');
  if (!bulkIn || bulkIn.type !== 'bulk' || !(bulkIn.address & 0x80)) throw new AcmDescriptorError('no bulk IN endpoint');
  if (!bulkOut || bulkOut.type !== 'bulk' || bulkOut.address & 0x80) throw new AcmDescriptorError('no bulk OUT endpoint');
  let capabilities = functional.acmCapabilities ?? 0;
  if (quirks.includes('NO_CAP_LINE') || combined) capabilities &= ~ACM_CAP.LINE;
  if (quirks.includes('MISSING_CAP_BRK')) capabilities |= ACM_CAP.BRK;
  const association = config.associations.find((a) => control.number >= a.firstInterface && control.number < a.firstInterface + a.interfaceCount) ?? null;
  return Object.freeze({
    controlInterface: control.number,
    dataInterface: data.number,
    combined,
    foundBy,
    swapped,
    notifyEndpoint: notify,
    bulkIn,
    bulkOut,
    capabilities,
    functional,
    association,
  });
}

/** Whether Linux's class match (2/2 protocol 0-6) takes an interface. */
export function isAcmControlInterface(i: Pick<RawInterface, 'cls' | 'subclass' | 'protocol'>): boolean {
  return i.cls === USB_CLASS_COMM && i.subclass === USB_CDC_SUBCLASS_ACM && i.protocol <= 6;
}
