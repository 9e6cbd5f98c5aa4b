// A stand-in for Linux's USB/IP on a few hosts, for the lab's tests: it answers the `usbip`
// commands the lab runs (list -r, attach, port, detach) and the exporter-side shell commands
// (serial numbers, unbind, bind, usbip_sockfd, restart) with the texts the real tool prints
// (as seen in the VM tier: usbip 2.0+6.1, kernel 6.1), and keeps the vhci status the heartbeat
// reads. Faults: a host that stops answering (silently, or refusing), an exporter unbind.
import type { CommandResult, CommandRunner } from '../../src/lab/index.ts';
import type { VhciPortStatus } from '../../src/lab/index.ts';

export interface FakeDevice {
  busid: string;
  vendorId: number;
  productId: number;
  serial?: string;
  /** Bound to usbip-host (offered). */
  bound: boolean;
  /** Imported by someone (usbip_status 2). */
  inUse: boolean;
}

export interface FakeHost {
  address: string;
  port: number;
  devices: FakeDevice[];
  /** 'up' answers; 'silent' drops packets (probes time out); 'refused' refuses connections. */
  net: 'up' | 'silent' | 'refused';
}

interface Import {
  port: number;
  host: FakeHost;
  busid: string;
  localBusid: string;
}

const ok = (stdout: string, stderr = ''): CommandResult => ({ code: 0, stdout, stderr });
const fail = (stderr: string): CommandResult => ({ code: 1, stdout: '', stderr });
const hex4 = (n: number) => n.toString(16).padStart(4, '0');

export class FakeUsbip {
  readonly hosts: FakeHost[] = [];
  readonly imports: Import[] = [];
  readonly calls: string[][] = [];
  vhciLoaded = true;
  /**
   * `usbip port` calls that fail after each attach, as the real tool's do while the import
   * enumerates: vhci_hcd's status shows the port in use, its USB device is not in sysfs yet.
   */
  enumeratingPortCalls = 0;
  private enumerating = 0;
  private nextLocal = 1;

  addHost(address: string, devices: Omit<FakeDevice, 'bound' | 'inUse'>[], port = 3240): FakeHost {
    const h: FakeHost = { address, port, devices: devices.map((d) => ({ ...d, bound: true, inUse: false })), net: 'up' };
    this.hosts.push(h);
    return h;
  }

  private host(address: string, port: number): FakeHost | undefined {
    return this.hosts.find((h) => h.address === address && h.port === port);
  }

  /** The kernel side of a closed connection: the import is unplugged, the device offered again. */
  unplugImport(i: Import): void {
    this.imports.splice(this.imports.indexOf(i), 1);
    const d = i.host.devices.find((x) => x.busid === i.busid);
    // Across a network that drops packets the exporter never hears the close: it keeps the
    // device in use (usbip_status 2) until its own TCP gives up.
    if (d && i.host.net === 'up') d.inUse = false;
  }

  readonly run: CommandRunner = async (argv) => {
    this.calls.push([...argv]);
    if (argv[0] === 'sh' && argv[1] === '-c') return this.exporterShell(argv[2]!);
    // The lab's link commands in tests: `fake-net down|up` makes the first host's network silent or not.
    if (argv[0] === 'fake-net') {
      this.hosts[0]!.net = argv[1] === 'down' ? 'silent' : 'up';
      if (argv[1] === 'up') for (const d of this.hosts[0]!.devices) if (!this.imports.some((i) => i.busid === d.busid)) d.inUse = false;
      return ok('');
    }
    if (argv[0] !== 'usbip') return { code: null, stdout: '', stderr: `spawn ${argv[0]} ENOENT` };
    let args = argv.slice(1);
    let port = 3240;
    if (args[0] === '--tcp-port') {
      port = Number(args[1]);
      args = args.slice(2);
    }
    const opt = (flag: string) => args[args.indexOf(flag) + 1]!;
    switch (args[0]) {
      case 'list': {
        const h = this.host(opt('-r'), port);
        if (!h || h.net !== 'up') return fail(`usbip: error: could not connect to ${opt('-r')}:${port}: System error`);
        const offered = h.devices.filter((d) => d.bound && !d.inUse);
        if (offered.length === 0) return ok('', `usbip: info: no exportable devices found on ${h.address}\n`);
        const lines = ['Exportable USB devices', '======================', ` - ${h.address}`];
        for (const d of offered) {
          lines.push(`${d.busid.padStart(11)}: Future Technology Devices International, Ltd : FT232 Serial (UART) IC (${hex4(d.vendorId)}:${hex4(d.productId)})`);
          lines.push(`${''.padStart(11)}: /sys/devices/pci0000:00/0000:00:06.0/usb1/${d.busid}`);
          lines.push(`${''.padStart(11)}: (Defined at Interface level) (00/00/00)`, '');
        }
        return ok(lines.join('\n') + '\n');
      }
      case 'attach': {
        const h = this.host(opt('-r'), port);
        const busid = opt('-b');
        if (!h || h.net !== 'up') return fail(`usbip: error: could not connect to ${opt('-r')}:${port}: System error`);
        const d = h.devices.find((x) => x.busid === busid && x.bound);
        if (!d) return fail(`usbip: error: Attach Request for ${busid} failed - Device not found\n`);
        if (d.inUse) return fail(`usbip: error: Attach Request for ${busid} failed - Device busy (exported)\n`);
        if (!this.vhciLoaded) return fail('libusbip: error: udev_device_new_from_subsystem_sysname failed\nusbip: error: open vhci_driver');
        let p = 0;
        while (this.imports.some((i) => i.port === p)) p++;
        d.inUse = true;
        this.imports.push({ port: p, host: h, busid, localBusid: `3-${this.nextLocal++}` });
        this.enumerating = this.enumeratingPortCalls;
        return ok('');
      }
      case 'port': {
        if (!this.vhciLoaded) return fail('libusbip: error: udev_device_new_from_subsystem_sysname failed\nusbip: error: open vhci_driver\nusbip: error: list imported devices');
        if (this.enumerating > 0) {
          this.enumerating--;
          return fail('usbip: error: list imported devices');
        }
        const lines = ['Imported USB devices', '===================='];
        for (const i of [...this.imports].sort((a, b) => a.port - b.port)) {
          const d = i.host.devices.find((x) => x.busid === i.busid)!;
          lines.push(`Port ${String(i.port).padStart(2, '0')}: <Port in Use> at Full Speed(12Mbps)`);
          lines.push(`       Future Technology Devices International, Ltd : FT232 Serial (UART) IC (${hex4(d.vendorId)}:${hex4(d.productId)})`);
          lines.push(`${i.localBusid.padStart(10)} -> usbip://${i.host.address}:${i.host.port}/${i.busid}`);
          lines.push('           -> remote bus/dev 001/002');
        }
        return ok(lines.join('\n') + '\n');
      }
      case 'detach': {
        const p = Number(opt('-p'));
        const i = this.imports.find((x) => x.port === p);
        if (!i) return ok('', `usbip: info: Port ${p} is already detached!\n`);
        this.unplugImport(i);
        return ok('', `usbip: info: Port ${p} is now detached!\n`);
      }
      default:
        return fail(`usbip: error: unknown command ${args[0]}`);
    }
  };

  /** Exporter-side commands (a lab file with "exporter": {"via": []}); always the first host. */
  private exporterShell(script: string): CommandResult {
    const h = this.hosts[0]!;
    if (script.includes('/serial')) return ok(h.devices.filter((d) => d.serial).map((d) => `${d.busid}\t${d.serial!}\n`).join(''));
    const unbind = /^usbip unbind -b (\S+)$/.exec(script);
    if (unbind) {
      const d = h.devices.find((x) => x.busid === unbind[1])!;
      d.bound = false;
      for (const i of this.imports.filter((x) => x.host === h && x.busid === d.busid)) this.unplugImport(i);
      return ok('');
    }
    const bind = /^usbip bind -b (\S+)$/.exec(script);
    if (bind) {
      h.devices.find((x) => x.busid === bind[1])!.bound = true;
      return ok('');
    }
    const drop = /^echo -1 > \/sys\/bus\/usb\/devices\/(\S+)\/usbip_sockfd$/.exec(script);
    if (drop) {
      for (const i of this.imports.filter((x) => x.host === h && x.busid === drop[1])) this.unplugImport(i);
      const d = h.devices.find((x) => x.busid === drop[1]);
      if (d) d.inUse = false;
      return ok('');
    }
    if (script.includes('pidof usbipd')) {
      // The exporter restarts: every import of it is unplugged, every device offered anew.
      for (const i of this.imports.filter((x) => x.host === h)) this.unplugImport(i);
      for (const d of h.devices) {
        d.bound = true;
        d.inUse = false;
      }
      return ok('');
    }
    return fail(`sh: unexpected script: ${script}`);
  }

  /** The vhci status files' lines (ports 0-7 of one controller). */
  readonly vhci = async (): Promise<VhciPortStatus[]> =>
    Array.from({ length: 8 }, (_, port) => {
      const i = this.imports.find((x) => x.port === port);
      return { hub: 'hs' as const, port, status: i ? 6 : 4, speed: i ? 2 : 0, devid: i ? 0x10002 : 0, sockfd: i ? 3 : 0, localBusid: i ? i.localBusid : null };
    });

  /** The heartbeat's TCP probe against the fake network. */
  readonly probe = async (address: string, port: number): Promise<boolean> => {
    const h = this.host(address, port);
    return h !== undefined && h.net === 'up';
  };
}
