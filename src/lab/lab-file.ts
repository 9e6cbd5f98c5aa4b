// The lab description: which hosts export dongles over USB/IP, and which of their devices are
// the lab's. A small JSON file:
//
//   { "hosts": [ { "name": "rack1", "address": "10.0.0.5",
//                  "dongles": [ { "busid": "1-1.2" }, { "serial": "FT5XK2", "name": "gps" } ],
//                  "hubs": [ { "busid": "1-1" } ],
//                  "exporter": { "via": ["ssh", "root@10.0.0.5"] } } ],
//     "heartbeat": { "intervalMs": 500, "timeoutMs": 1000, "misses": 3 } }
//
// A dongle is named by its bus ID on the exporter (what `usbip list -r` shows) or by its serial
// number; a hub entry stands for every exportable device below that hub (usbip-host refuses hubs
// themselves: stub_probe). `exporter.via` is the command prefix that runs a command on the
// exporting host (ssh, or [] for this machine): only needed to find dongles by serial number and
// for the exporter-side faults of the stress harness. Parsing rejects anything it does not know,
// naming the field, so a typo never silently drops a dongle.
import { LabFileError } from './errors.ts';

export const USBIP_PORT = 3240;

export interface LabDongle {
  /** Unique in the lab: given, or `<host>/<busid>`, `<host>/<serial>`. */
  readonly name: string;
  readonly host: string;
  readonly busid?: string;
  readonly serial?: string;
}

export interface LabHub {
  readonly name: string;
  readonly host: string;
  readonly busid: string;
}

export interface LabHost {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly dongles: readonly LabDongle[];
  readonly hubs: readonly LabHub[];
  /** argv prefix that runs a command on the exporter ([] = here); absent = no exporter access. */
  readonly exporterVia?: readonly string[];
}

export interface HeartbeatSettings {
  /** How often each exporter is probed (ms). */
  readonly intervalMs: number;
  /** How long one probe may take (ms). */
  readonly timeoutMs: number;
  /** Probes failed in a row before the link counts as dead. */
  readonly misses: number;
}

export interface LabDescription {
  readonly hosts: readonly LabHost[];
  readonly heartbeat: HeartbeatSettings;
}

export const DEFAULT_HEARTBEAT: HeartbeatSettings = Object.freeze({ intervalMs: 500, timeoutMs: 1000, misses: 3 });

/** Larger than any lab description; past it the text is not one. */
const MAX_TEXT = 1 << 20;
/** usbip's SYSFS_BUS_ID_SIZE is 32 (with the NUL); Linux names a USB device `<bus>-<port>[.<port>]...`. */
const BUSID = /^[1-9]\d{0,2}-[1-9]\d?(\.[1-9]\d?){0,6}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,63}$/;
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A DNS name, an IPv4 address or an IPv6 address (brackets optional): no spaces, slashes or shell characters. */
const ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+|[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?)$/;

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const show = (v: Json): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
};

class Reader {
  constructor(readonly source: string) {}

  fail(field: string, problem: string): never {
    throw new LabFileError(field, problem, this.source);
  }

  object(v: Json, field: string, allowed: readonly string[]): Record<string, Json> {
    if (!isObject(v)) this.fail(field, `must be an object, not ${show(v)}`);
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.fail(field === '' ? k : `${field}.${k}`, `unknown field (known here: ${allowed.join(', ')})`);
    }
    return v;
  }

  array(v: Json, field: string, max: number): Json[] {
    if (!Array.isArray(v)) this.fail(field, `must be an array, not ${show(v)}`);
    if (v.length > max) this.fail(field, `has ${v.length} entries; at most ${max}`);
    return v;
  }

  string(v: Json, field: string, pattern: RegExp, what: string): string {
    if (typeof v !== 'string') this.fail(field, `must be a string (${what}), not ${show(v)}`);
    if (!pattern.test(v)) this.fail(field, `${show(v)} is not ${what}`);
    return v;
  }

  integer(v: Json, field: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(field, `must be a whole number from ${min} to ${max}, not ${show(v)}`);
    return v;
  }
}

/** Parses a lab description (JSON text); throws LabFileError naming the first bad field. */
export function parseLabFile(text: string, source = 'lab file'): LabDescription {
  const r = new Reader(source);
  if (typeof text !== 'string') r.fail('', 'is not text');
  if (text.length > MAX_TEXT) r.fail('', `is ${text.length} characters; a lab description is at most ${MAX_TEXT}`);
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    r.fail('', `is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return labFromJson(doc, r);
}

/** The same checks on an already parsed value (a lab built in code). */
export function labFromJson(doc: unknown, reader: Reader | string = 'lab'): LabDescription {
  const r = typeof reader === 'string' ? new Reader(reader) : reader;
  const top = r.object(doc, '', ['hosts', 'heartbeat', 'description']);
  if (top.description !== undefined && typeof top.description !== 'string') r.fail('description', 'must be a string');
  if (top.hosts === undefined) r.fail('hosts', 'is missing: a lab names at least one exporting host');
  const hostsJson = r.array(top.hosts, 'hosts', 256);
  if (hostsJson.length === 0) r.fail('hosts', 'is empty: a lab names at least one exporting host');
  const hosts: LabHost[] = [];
  const dongleNames = new Map<string, string>();
  const endpoints = new Map<string, string>();
  hostsJson.forEach((h, i) => {
    const f = `hosts[${i}]`;
    const o = r.object(h, f, ['name', 'address', 'port', 'dongles', 'hubs', 'exporter']);
    if (o.name === undefined) r.fail(`${f}.name`, 'is missing');
    const name = r.string(o.name, `${f}.name`, HOST_NAME, 'a host name (letters, digits, . _ -; up to 64)');
    if (hosts.some((x) => x.name === name)) r.fail(`${f}.name`, `'${name}' is used by another host`);
    if (o.address === undefined) r.fail(`${f}.address`, 'is missing (the exporter\'s host name or IP address)');
    const address = r.string(o.address, `${f}.address`, ADDRESS, 'a host name or an IP address').replace(/^\[(.*)\]$/, '$1');
    if (address.length > 253) r.fail(`${f}.address`, 'is longer than a DNS name may be (253)');
    const port = o.port === undefined ? USBIP_PORT : r.integer(o.port, `${f}.port`, 1, 65535);
    const endpoint = `${address.toLowerCase()}:${port}`;
    if (endpoints.has(endpoint)) r.fail(`${f}.address`, `${endpoint} is also host '${endpoints.get(endpoint)}'`);
    endpoints.set(endpoint, name);
    const dongles: LabDongle[] = [];
    const busids = new Set<string>();
    const claim = (field: string, dongle: LabDongle) => {
      const other = dongleNames.get(dongle.name);
      if (other !== undefined) r.fail(field, `dongle name '${dongle.name}' is also ${other}`);
      dongleNames.set(dongle.name, field);
      dongles.push(dongle);
    };
    if (o.dongles !== undefined) {
      r.array(o.dongles, `${f}.dongles`, 1024).forEach((d, k) => {
        const df = `${f}.dongles[${k}]`;
        const dj = r.object(d, df, ['name', 'busid', 'serial']);
        if ((dj.busid === undefined) === (dj.serial === undefined)) r.fail(df, 'names a dongle by exactly one of busid or serial');
        const busid = dj.busid === undefined ? undefined : r.string(dj.busid, `${df}.busid`, BUSID, "a USB bus ID such as '1-1.2'");
        const serial = dj.serial === undefined ? undefined : r.string(dj.serial, `${df}.serial`, /^[\x21-\x7e]{1,126}$/, 'a serial number (1 to 126 printable characters, no spaces)');
        if (busid !== undefined) {
          if (busids.has(busid)) r.fail(`${df}.busid`, `'${busid}' is listed twice on host '${name}'`);
          busids.add(busid);
        }
        const dname = dj.name === undefined ? `${name}/${busid ?? serial!}` : r.string(dj.name, `${df}.name`, NAME, 'a dongle name (letters, digits, . _ : @ / -; up to 64)');
        claim(`${df}.name`, { name: dname, host: name, ...(busid !== undefined ? { busid } : {}), ...(serial !== undefined ? { serial } : {}) });
      });
    }
    const hubs: LabHub[] = [];
    if (o.hubs !== undefined) {
      r.array(o.hubs, `${f}.hubs`, 256).forEach((d, k) => {
        const hf = `${f}.hubs[${k}]`;
        const hj = r.object(d, hf, ['name', 'busid']);
        if (hj.busid === undefined) r.fail(`${hf}.busid`, "is missing (the hub's bus ID on the exporter)");
        const busid = r.string(hj.busid, `${hf}.busid`, BUSID, "a USB bus ID such as '1-1'");
        if (hubs.some((x) => x.busid === busid)) r.fail(`${hf}.busid`, `hub '${busid}' is listed twice on host '${name}'`);
        const hname = hj.name === undefined ? `${name}/hub-${busid}` : r.string(hj.name, `${hf}.name`, NAME, 'a hub name');
        hubs.push({ name: hname, host: name, busid });
      });
    }
    if (dongles.length === 0 && hubs.length === 0) r.fail(f, `host '${name}' names no dongles and no hubs`);
    let exporterVia: string[] | undefined;
    if (o.exporter !== undefined) {
      const e = r.object(o.exporter, `${f}.exporter`, ['via']);
      if (e.via === undefined) r.fail(`${f}.exporter.via`, 'is missing (the command prefix that reaches the exporter, e.g. ["ssh", "root@rack1"], or [] for this machine)');
      exporterVia = r.array(e.via, `${f}.exporter.via`, 32).map((a, k) => r.string(a, `${f}.exporter.via[${k}]`, /^[^\0\n]{1,512}$/, 'a command-line argument'));
    }
    if (dongles.some((d) => d.serial !== undefined) && exporterVia === undefined) {
      r.fail(`${f}.exporter`, 'is needed to find dongles by serial number (usbip list -r does not report serial numbers; the exporter\'s sysfs does)');
    }
    hosts.push({ name, address, port, dongles, hubs, ...(exporterVia !== undefined ? { exporterVia } : {}) });
  });
  let heartbeat = DEFAULT_HEARTBEAT;
  if (top.heartbeat !== undefined) {
    const hb = r.object(top.heartbeat, 'heartbeat', ['intervalMs', 'timeoutMs', 'misses']);
    heartbeat = {
      intervalMs: hb.intervalMs === undefined ? DEFAULT_HEARTBEAT.intervalMs : r.integer(hb.intervalMs, 'heartbeat.intervalMs', 50, 60_000),
      timeoutMs: hb.timeoutMs === undefined ? DEFAULT_HEARTBEAT.timeoutMs : r.integer(hb.timeoutMs, 'heartbeat.timeoutMs', 50, 60_000),
      misses: hb.misses === undefined ? DEFAULT_HEARTBEAT.misses : r.integer(hb.misses, 'heartbeat.misses', 1, 100),
    };
  }
  return { hosts, heartbeat };
}
