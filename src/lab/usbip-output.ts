// What Linux's `usbip` tool prints (tools/usb/usbip, Debian's usbip package), read into data:
// `usbip list -r HOST` (usbip_list.c list_exported_devices), `usbip port`
// (libsrc/vhci_driver.c usbip_vhci_imported_device_dump), and the vhci_hcd `status` file
// (drivers/usb/usbip/vhci_sysfs.c status_show) that the heartbeat reads without a subprocess.
// Unknown lines are skipped: the tool's banners and usb.ids look-ups vary, the fields do not.

/** A device an exporter offers (`usbip list -r`). */
export interface ExportedDevice {
  readonly busid: string;
  readonly vendorId: number;
  readonly productId: number;
  /** usb.ids' names, or 'unknown vendor : unknown product' without hwdata. */
  readonly description: string;
  /** The device's sysfs path on the exporter. */
  readonly path: string;
}

/** An imported device on this host (`usbip port`). */
export interface ImportedPort {
  /** vhci port number: what `usbip detach -p` takes. */
  readonly port: number;
  readonly state: string;
  readonly speed: string;
  readonly vendorId: number | null;
  readonly productId: number | null;
  /** Where the import sits on this host: bus-port as sysfs names it (`3-1`), null if not yet enumerated. */
  readonly localBusid: string | null;
  /** The record usbip attach left (/var/run/vhci_hcd/portN): null when it is missing. */
  readonly remote: { readonly host: string; readonly port: number; readonly busid: string } | null;
}

/** One line of a vhci_hcd.N/status file. */
export interface VhciPortStatus {
  readonly hub: 'hs' | 'ss';
  readonly port: number;
  /** enum usbip_device_status: 4 NULL (free), 5 NOTASSIGNED, 6 USED, 7 ERROR. */
  readonly status: number;
  readonly speed: number;
  /** The remote device's bus << 16 | devnum. */
  readonly devid: number;
  readonly sockfd: number;
  readonly localBusid: string | null;
}

export const VDEV_ST_USED = 6;

const BUSID = /^\d+-[\d.]+$/;

/** `usbip list -r HOST`'s devices. */
export function parseRemoteList(text: string): ExportedDevice[] {
  const out: ExportedDevice[] = [];
  let current: { busid: string; vendorId: number; productId: number; description: string; path: string } | null = null;
  for (const raw of text.split('\n')) {
    // "        1-1: FTDI : FT232 Serial (UART) IC (0403:6001)"
    const head = /^\s*(\d+-[\d.]+):\s+(.*)\(([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\)\s*$/.exec(raw);
    if (head) {
      if (current) out.push(current);
      current = { busid: head[1]!, description: head[2]!.trim(), vendorId: Number.parseInt(head[3]!, 16), productId: Number.parseInt(head[4]!, 16), path: '' };
      continue;
    }
    // "           : /sys/devices/pci0000:00/0000:00:06.0/usb1/1-1"
    const path = /^\s*:\s+(\/sys\/\S+)\s*$/.exec(raw);
    if (path && current && current.path === '') current.path = path[1]!;
  }
  if (current) out.push(current);
  return out;
}

/** `usbip port`'s imported devices. */
export function parsePortList(text: string): ImportedPort[] {
  const out: ImportedPort[] = [];
  type Draft = { -readonly [K in keyof ImportedPort]: ImportedPort[K] };
  let cur: Draft | null = null;
  for (const raw of text.split('\n')) {
    // "Port 00: <Port in Use> at Full Speed(12Mbps)"
    const head = /^Port\s+(\d+):\s+<([^>]*)>\s+at\s+(.*?)\s*$/.exec(raw);
    if (head) {
      if (cur) out.push(cur);
      cur = { port: Number(head[1]), state: head[2]!, speed: head[3]!, vendorId: null, productId: null, localBusid: null, remote: null };
      continue;
    }
    if (!cur) continue;
    // "       3-1 -> usbip://127.0.0.1:3240/1-1" (IPv6 hosts are printed bare: split at the last ':')
    const link = /^\s*(\S+)\s+->\s+usbip:\/\/(.+):(\d+)\/(\d+-[\d.]+)\s*$/.exec(raw);
    if (link) {
      cur.localBusid = BUSID.test(link[1]!) ? link[1]! : null;
      cur.remote = { host: link[2]!, port: Number(link[3]), busid: link[4]! };
      continue;
    }
    // "       3-1 -> unknown host, remote port and remote busid"
    const unknown = /^\s*(\S+)\s+->\s+unknown host/.exec(raw);
    if (unknown) {
      cur.localBusid = BUSID.test(unknown[1]!) ? unknown[1]! : null;
      continue;
    }
    const ids = /\(([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\)\s*$/.exec(raw);
    if (ids && cur.vendorId === null && !raw.includes('->')) {
      cur.vendorId = Number.parseInt(ids[1]!, 16);
      cur.productId = Number.parseInt(ids[2]!, 16);
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** A vhci_hcd.N/status file ("hub port sta spd dev sockfd local_busid" lines). */
export function parseVhciStatus(text: string): VhciPortStatus[] {
  const out: VhciPortStatus[] = [];
  for (const raw of text.split('\n')) {
    const m = /^(hs|ss)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-fA-F]+)\s+(\d+)\s+(\S+)\s*$/.exec(raw.trim());
    if (!m) continue;
    out.push({
      hub: m[1] as 'hs' | 'ss',
      port: Number(m[2]),
      status: Number(m[3]),
      speed: Number(m[4]),
      devid: Number.parseInt(m[5]!, 16),
      sockfd: Number(m[6]),
      localBusid: m[7] === '0-0' || !BUSID.test(m[7]!) ? null : m[7]!,
    });
  }
  return out;
}
