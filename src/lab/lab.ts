// A lab of many hosts over USB/IP, driven from the importing host: which of the lab's dongles
// each exporter offers (`usbip list -r`), attaching them (`usbip attach`), which vhci port and
// local bus ID each became (`usbip port`), and detaching them (`usbip detach`). USB/IP itself
// is Linux's (usbip-host + usbipd exporting, vhci_hcd importing); the lab only runs its tool.
import { childLog } from '../log.ts';
import type { CommandRunner } from './command.ts';
import { LabError, UsbipCommandError } from './errors.ts';
import { Exporter } from './exporter.ts';
import type { LabDescription, LabDongle, LabHost } from './lab-file.ts';
import { UsbipTool } from './usbip-tool.ts';
import type { ExportedDevice, ImportedPort } from './usbip-output.ts';

const log = childLog('lab');

/** A lab dongle with the bus ID it has on its exporter (serial numbers and hubs resolved). */
export interface ResolvedDongle {
  readonly name: string;
  readonly host: LabHost;
  readonly busid: string;
  readonly serial?: string;
  /** The hub entry that brought it in, if any. */
  readonly hub?: string;
}

/** One of the lab's dongles imported on this host. */
export interface Attachment {
  readonly dongle: string;
  readonly host: string;
  readonly address: string;
  readonly remoteBusid: string;
  /** vhci port: what `usbip detach -p` takes. */
  readonly vhciPort: number;
  /** Where the import sits here (`3-1`, as sysfs and our stack's device names read); null until enumerated. */
  readonly localBusid: string | null;
  readonly vendorId: number | null;
  readonly productId: number | null;
}

export interface HostListing {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  /** `usbip list -r` answered. */
  readonly reachable: boolean;
  readonly error?: string;
  /** What it offers now (devices in use, ours included, are not offered). */
  readonly offered: readonly (ExportedDevice & { readonly dongle: string | null })[];
}

export interface LabOptions {
  usbip?: UsbipTool;
  /** Runs commands on exporters (via their `exporter.via` prefix). */
  run?: CommandRunner;
  /** How long an attach may take to show its local bus ID in `usbip port` (ms, default 5,000). */
  enumerateMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Lab {
  readonly usbip: UsbipTool;
  private readonly exporters = new Map<string, Exporter>();
  private readonly enumerateMs: number;

  constructor(
    readonly description: LabDescription,
    o: LabOptions = {},
  ) {
    this.usbip = o.usbip ?? new UsbipTool(o.run ? { run: o.run } : {});
    this.enumerateMs = o.enumerateMs ?? 5000;
    for (const h of description.hosts) this.exporters.set(h.name, new Exporter(h, o.run));
  }

  host(name: string): LabHost {
    const h = this.description.hosts.find((x) => x.name === name);
    if (!h) throw new LabError(`no host '${name}' in the lab (hosts: ${this.description.hosts.map((x) => x.name).join(', ')})`);
    return h;
  }

  exporter(host: string): Exporter {
    this.host(host);
    return this.exporters.get(host)!;
  }

  /** `usbip list -r` on every host; a host that does not answer is listed with its error. */
  async list(): Promise<HostListing[]> {
    const resolved = await this.resolve().catch(() => [] as ResolvedDongle[]);
    return Promise.all(
      this.description.hosts.map(async (h): Promise<HostListing> => {
        try {
          const offered = await this.usbip.listRemote(h.address, h.port);
          return {
            host: h.name,
            address: h.address,
            port: h.port,
            reachable: true,
            offered: offered.map((d) => ({ ...d, dongle: resolved.find((r) => r.host.name === h.name && r.busid === d.busid)?.name ?? null })),
          };
        } catch (err) {
          return { host: h.name, address: h.address, port: h.port, reachable: false, error: err instanceof Error ? err.message : String(err), offered: [] };
        }
      }),
    );
  }

  /**
   * Every dongle with its exporter bus ID: bus IDs as given, serial numbers looked up in the
   * exporter's sysfs, hubs expanded to the devices below them (offered now or imported here).
   */
  async resolve(): Promise<ResolvedDongle[]> {
    const out: ResolvedDongle[] = [];
    const imported = await this.importedPorts().catch(() => [] as ImportedPort[]);
    for (const h of this.description.hosts) {
      let serials: Map<string, string> | undefined;
      for (const d of h.dongles) {
        if (d.busid !== undefined) {
          out.push({ name: d.name, host: h, busid: d.busid });
          continue;
        }
        serials ??= await this.exporters.get(h.name)!.serialNumbers();
        const busid = [...serials].find(([, s]) => s === d.serial)?.[0];
        if (!busid) throw new LabError(`dongle '${d.name}': no device with serial number '${d.serial!}' on host '${h.name}'`);
        out.push({ name: d.name, host: h, busid, serial: d.serial! });
      }
      if (h.hubs.length === 0) continue;
      const offered = await this.usbip.listRemote(h.address, h.port);
      const busids = new Set([...offered.map((d) => d.busid), ...imported.filter((p) => this.isFrom(p, h)).map((p) => p.remote!.busid)]);
      for (const hub of h.hubs) {
        for (const busid of [...busids].sort()) {
          if (!busid.startsWith(`${hub.busid}.`) || out.some((x) => x.host === h && x.busid === busid)) continue;
          out.push({ name: `${h.name}/${busid}`, host: h, busid, hub: hub.name });
        }
      }
    }
    return out;
  }

  private isFrom(p: ImportedPort, h: LabHost): boolean {
    return p.remote !== null && p.remote.host === h.address && p.remote.port === h.port;
  }

  /** `usbip port`, with the error a missing vhci_hcd gives turned into what to do. */
  async importedPorts(): Promise<ImportedPort[]> {
    try {
      return await this.usbip.ports();
    } catch (err) {
      // usbip says 'open vhci_driver' / 'list imported devices' when vhci_hcd is not there.
      if (err instanceof UsbipCommandError && /vhci|imported devices/i.test(err.detail)) {
        throw new LabError(`usbip cannot open vhci_hcd on this host: load it first (modprobe vhci-hcd) [${err.detail}]`);
      }
      throw err;
    }
  }

  /** The lab's dongles imported here now. */
  async attachments(dongles?: readonly ResolvedDongle[]): Promise<Attachment[]> {
    const all = dongles ?? (await this.resolve());
    const ports = await this.importedPorts();
    const out: Attachment[] = [];
    for (const p of ports) {
      const d = all.find((x) => this.isFrom(p, x.host) && x.busid === p.remote!.busid);
      if (!d) continue;
      out.push({
        dongle: d.name,
        host: d.host.name,
        address: d.host.address,
        remoteBusid: d.busid,
        vhciPort: p.port,
        localBusid: p.localBusid,
        vendorId: p.vendorId,
        productId: p.productId,
      });
    }
    return out;
  }

  /** The named dongles (all when none are named); throws LabError naming an unknown one. */
  async select(names?: readonly string[]): Promise<ResolvedDongle[]> {
    const all = await this.resolve();
    if (!names || names.length === 0) return all;
    return names.map((n) => {
      const d = all.find((x) => x.name === n) ?? all.filter((x) => x.host.name === n);
      if (Array.isArray(d)) {
        if (d.length === 0) throw new LabError(`no dongle or host '${n}' in the lab (dongles: ${all.map((x) => x.name).join(', ') || 'none'})`);
        return d;
      }
      return [d];
    }).flat();
  }

  /**
   * Attaches the dongles not imported yet and waits until each shows its local bus ID; resolves
   * with the attachments of all the selected dongles. One failing dongle does not stop the
   * others: failures come back per dongle.
   */
  async attach(names?: readonly string[]): Promise<{ attached: Attachment[]; failed: { dongle: string; error: string }[] }> {
    const want = await this.select(names);
    const before = await this.attachments(want);
    const failed: { dongle: string; error: string }[] = [];
    for (const d of want) {
      if (before.some((a) => a.dongle === d.name)) continue;
      try {
        await this.usbip.attach(d.host.address, d.busid, d.host.port);
        log.info({ dongle: d.name, host: d.host.name, busid: d.busid }, 'attached');
      } catch (err) {
        failed.push({ dongle: d.name, error: err instanceof Error ? err.message : String(err) });
      }
    }
    // `usbip port` can lag an attach: the kernel enumerates the import after attach returns.
    // Meanwhile `usbip port` may even fail ("list imported devices"): vhci_hcd's status already
    // shows the port in use with its local bus ID, and usbip looks that USB device up in sysfs
    // before the hub has registered it. vhci_hcd answered just before the attach, so that is the
    // import still enumerating, not vhci_hcd missing: asked again until the deadline.
    const deadline = Date.now() + this.enumerateMs;
    const settled = async (): Promise<Attachment[] | null> => {
      try {
        return await this.attachments(want);
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        log.debug({ err }, 'usbip port failed while imports enumerate; asking again');
        return null;
      }
    };
    let now = (await settled()) ?? [];
    const pending = () => want.filter((d) => !failed.some((f) => f.dongle === d.name) && !now.some((a) => a.dongle === d.name && a.localBusid !== null));
    while (pending().length > 0 && Date.now() < deadline) {
      await sleep(100);
      now = (await settled()) ?? now;
    }
    return { attached: now, failed };
  }

  /** Detaches the named dongles (all when none are named); resolves with what was detached. */
  async detach(names?: readonly string[]): Promise<Attachment[]> {
    const want = await this.select(names);
    const now = await this.attachments(want);
    for (const a of now) {
      await this.usbip.detach(a.vhciPort);
      log.info({ dongle: a.dongle, vhciPort: a.vhciPort }, 'detached');
    }
    return now;
  }
}

export type { LabDongle };
