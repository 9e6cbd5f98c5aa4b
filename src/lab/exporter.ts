// The exporting host's side, reached through the lab file's `exporter.via` prefix (ssh, or this
// machine): reading its sysfs (serial numbers, for dongles named by serial) and the faults only a
// network lab has, each through the stock tools and files of Linux's USB/IP:
//   unplug   `usbip unbind -b`: the device leaves usbip-host, its import is unplugged at once
//   drop     `echo -1 > usbip_sockfd` (stub_dev.c usbip_sockfd_store): the connection is closed
//   restart  usbipd stopped, every lab device unbound and bound again, usbipd started: what a
//            reboot of the exporter does to the importer (imports gone, devices offered anew)
import { runCommand, lastLine, type CommandRunner } from './command.ts';
import { UsbipCommandError } from './errors.ts';
import type { LabHost } from './lab-file.ts';

const BUSID = /^\d+-[\d.]+$/;

/** A bus ID goes into a shell command: only ever digits, '-' and '.'. */
function checked(busid: string): string {
  if (!BUSID.test(busid)) throw new UsbipCommandError(['(exporter)'], null, `'${busid}' is not a USB bus ID`);
  return busid;
}

export class Exporter {
  constructor(
    readonly host: LabHost,
    private readonly run: CommandRunner = runCommand,
  ) {}

  get reachable(): boolean {
    return this.host.exporterVia !== undefined;
  }

  /** Runs one shell command on the exporter; resolves with its stdout. */
  async shell(script: string, timeoutMs = 20_000): Promise<string> {
    const via = this.host.exporterVia;
    if (via === undefined) throw new UsbipCommandError(['(exporter)', script], null, `host '${this.host.name}' has no "exporter": {"via": [...]} in the lab file`);
    // A prefix such as ssh takes the command as one argument; [] runs it here through sh -c.
    const argv = via.length === 0 ? ['sh', '-c', script] : [...via, script];
    const r = await this.run(argv, { timeoutMs });
    if (r.code !== 0) throw new UsbipCommandError(argv, r.code, lastLine(r));
    return r.stdout;
  }

  /** Bus ID -> serial number of every device on the exporter that has one. */
  async serialNumbers(): Promise<Map<string, string>> {
    const out = await this.shell('for f in /sys/bus/usb/devices/*/serial; do [ -r "$f" ] && printf "%s\\t%s\\n" "$(basename "$(dirname "$f")")" "$(cat "$f")"; done; true');
    const map = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [busid, serial] = line.split('\t');
      if (busid && serial && BUSID.test(busid)) map.set(busid, serial.trim());
    }
    return map;
  }

  unbind(busid: string): Promise<string> {
    return this.shell(`usbip unbind -b ${checked(busid)}`);
  }

  bind(busid: string): Promise<string> {
    return this.shell(`usbip bind -b ${checked(busid)}`);
  }

  /** Closes the device's USB/IP connection from the exporter's side. */
  dropConnection(busid: string): Promise<string> {
    return this.shell(`echo -1 > /sys/bus/usb/devices/${checked(busid)}/usbip_sockfd`);
  }

  /** The device's usbip_status: 1 available, 2 in use, 3 error; null when not bound to usbip-host. */
  async status(busid: string): Promise<number | null> {
    const out = await this.shell(`cat /sys/bus/usb/devices/${checked(busid)}/usbip_status 2>/dev/null || true`);
    const n = Number.parseInt(out.trim(), 10);
    return Number.isFinite(n) ? n : null;
  }

  /** usbipd stopped, the devices unbound and bound again, usbipd started (daemonised). */
  restart(busids: readonly string[]): Promise<string> {
    const ids = busids.map(checked).join(' ');
    return this.shell(
      `for p in $(pidof usbipd); do kill "$p"; done; for b in ${ids}; do usbip unbind -b "$b" >/dev/null 2>&1; done; ` +
        `for b in ${ids}; do usbip bind -b "$b" || exit 1; done; usbipd -D`,
    );
  }
}
