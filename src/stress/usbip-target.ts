// Remote dongles for the stress harness: dongles of a USB/IP lab (src/lab), imported on this host,
// bound by our drivers through vhci_hcd. A "unplug" step is one of the faults a network lab has,
// in turn, and a "plug" step is the lab's re-attach:
//   detach   `usbip detach -p` here (the plain hotplug of a remote dongle)
//   unplug   the exporter unbinds the device from usbip-host (then binds it again, to offer it)
//   drop     the exporter closes the connection (usbip_sockfd)
//   restart  the exporter restarts (usbipd and every lab device of that host unbound and bound)
//   link     the network goes silent (the lab's link-down command); the supervisor's heartbeat
//            finds the dead link and detaches, then the link comes back (link-up command)
// Each must reach users as PortDisconnectedError with nothing leaked, and the re-attach must be
// clean. The exporter-wide faults (restart, link) take every import of that host with them, so
// they are used only on a dongle that is its host's one dongle in the run; others get `detach`.
// The dongles are imported before the run (usb-harness lab attach, or Lab.attach).
import { childLog } from '../log.ts';
import { runCommand, type CommandRunner } from '../lab/command.ts';
import type { HeartbeatSettings } from '../lab/lab-file.ts';
import type { Lab } from '../lab/lab.ts';
import { LabSupervisor, type SupervisorEvent, type SupervisorOptions } from '../lab/supervisor.ts';
import type { SerialDriverSpec } from '../serial/index.ts';
import type { HostBackend, HostDevice } from '../usb/host.ts';
import { StressOptionError, type NewIdCandidate, type Topology, type TopologyDongle, type TopologyLink } from './schedule.ts';
import type { DongleResources, LiveView, StressDriverSet, Target } from './target.ts';
import { discoverWiring } from './wiring.ts';

const log = childLog('stress.usbip');

export const REMOTE_FAULTS = ['detach', 'unplug', 'drop', 'restart', 'link'] as const;
export type RemoteFault = (typeof REMOTE_FAULTS)[number];

export interface UsbipTargetOptions {
  lab: Lab;
  /** The host backend, showing the imports only (src/lab importedOnly). */
  backend: HostBackend;
  driverSets: readonly StressDriverSet[];
  newIds?: readonly NewIdCandidate[];
  /** Faults taken in turn by the unplug steps (default: every one the lab allows). */
  faults?: readonly RemoteFault[];
  /** argv run here to make the network silent and to bring it back (the `link` fault). */
  link?: { down: readonly string[]; up: readonly string[] };
  /** The supervisor's heartbeat (default: the lab file's). */
  heartbeat?: HeartbeatSettings;
  links?: readonly TopologyLink[];
  baudRate?: number;
  /** How long a fault or a re-attach may take (ms, default 30,000). */
  settleMs?: number;
  run?: CommandRunner;
  /** The supervisor's probe and vhci status reader (tests stand in for the network and the kernel). */
  supervisor?: SupervisorOptions;
  /** Hands the target over once made (its figures are read after the run). */
  onTarget?: (target: UsbipTarget) => void;
}

/** What the remote faults cost, for the report: ms per event. */
export interface RemoteFigures {
  faults: Record<RemoteFault, number>;
  /** From the fault to the import gone here. */
  lossMs: number[];
  /** link: from the network going silent to the heartbeat's verdict. */
  detectMs: number[];
  /** From the plug step to the import enumerated again. */
  reattachMs: number[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class UsbipTarget implements Target {
  readonly kind = 'usbip' as const;
  readonly supervisor: LabSupervisor;
  readonly figures: RemoteFigures = { faults: { detach: 0, unplug: 0, drop: 0, restart: 0, link: 0 }, lossMs: [], detectMs: [], reattachMs: [] };
  private readonly faults: RemoteFault[];
  private readonly run: CommandRunner;
  private readonly seen = new WeakMap<HostDevice, string>();
  private readonly connected = new Map<string, boolean>();
  private turn = 0;
  private started = false;

  constructor(private readonly o: UsbipTargetOptions) {
    this.supervisor = new LabSupervisor(o.lab, { ...o.supervisor, ...(o.heartbeat ? { heartbeat: o.heartbeat } : {}) });
    this.run = o.run ?? runCommand;
    const allowed = REMOTE_FAULTS.filter((f) => (f !== 'link' || o.link !== undefined) && (!['unplug', 'drop', 'restart'].includes(f) || o.lab.description.hosts.every((h) => h.exporterVia !== undefined)));
    this.faults = [...(o.faults ?? allowed)];
    for (const f of this.faults) {
      if (!allowed.includes(f)) throw new StressOptionError(`remote fault '${f}' needs ${f === 'link' ? 'link down/up commands' : 'exporter access ("exporter": {"via": [...]}) for every host'}`);
    }
    o.onTarget?.(this);
  }

  get backend(): HostBackend {
    return this.o.backend;
  }

  get driverSets(): readonly StressDriverSet[] {
    return this.o.driverSets;
  }

  async describe(live: LiveView): Promise<Topology> {
    await this.supervisor.start();
    this.started = true;
    const byDongle = new Map<string, { slot: string; dongle: string; interfaceNumber: number; portNumber: number; port: ReturnType<LiveView['ports']>[number] }[]>();
    for (const port of live.ports()) {
      const name = this.dongleOf(port.serial.usbDevice.host);
      if (!name) continue;
      const slot = `${name}:${port.serial.intf.interfaceNumber}.${port.portNumber}`;
      byDongle.set(name, [...(byDongle.get(name) ?? []), { slot, dongle: name, interfaceNumber: port.serial.intf.interfaceNumber, portNumber: port.portNumber, port }]);
    }
    if (byDongle.size === 0) throw new StressOptionError('no lab dongle is imported here with a port of ours: attach them first (usb-harness lab attach)');
    const dongles: TopologyDongle[] = [...byDongle].map(([name, ports]) => {
      this.connected.set(name, true);
      return { name, interfaces: [...new Set(ports.map((p) => p.interfaceNumber))], ports: ports.map(({ port: _p, ...rest }) => rest), hotplug: true };
    });
    const links = this.o.links ?? (await discoverWiring([...byDongle.values()].flat(), { baudRate: this.o.baudRate ?? 115200 }));
    return {
      dongles,
      links: [...links],
      driverSets: this.o.driverSets.map((s) => ({ name: s.name, serialDrivers: s.specs.map((x: SerialDriverSpec) => x.name) })),
      newIds: this.o.newIds ?? [],
    };
  }

  /** The fault for this unplug: the next in turn, `detach` where an exporter-wide one would take other dongles too. */
  private nextFault(dongle: string): RemoteFault {
    const f = this.faults[this.turn++ % this.faults.length]!;
    if (f !== 'restart' && f !== 'link') return f;
    const host = this.supervisor.dongle(dongle)!.host.name;
    const sharing = [...this.connected.keys()].filter((d) => d !== dongle && this.supervisor.dongle(d)?.host.name === host);
    return sharing.length > 0 ? 'detach' : f;
  }

  async setConnected(dongle: string, on: boolean): Promise<string> {
    const d = this.supervisor.dongle(dongle);
    if (!d || !this.connected.has(dongle)) return 'skip:not-in-lab';
    if (this.connected.get(dongle) === on) return `skip:already-${on ? 'attached' : 'detached'}`;
    const limit = this.o.settleMs ?? 30_000;
    if (on) {
      const t0 = performance.now();
      this.supervisor.want(dongle, true);
      while (!this.supervisor.attachment(dongle)?.localBusid) {
        if (performance.now() - t0 > limit) return 'skip:reattach-timeout';
        await this.supervisor.tickNow();
        if (!this.supervisor.attachment(dongle)) await sleep(50);
      }
      this.figures.reattachMs.push(performance.now() - t0);
      this.connected.set(dongle, true);
      return 'ok';
    }
    const a = this.supervisor.attachment(dongle);
    if (!a) return 'skip:not-attached';
    this.supervisor.want(dongle, false);
    const fault = this.nextFault(dongle);
    const ex = this.o.lab.exporter(d.host.name);
    const t0 = performance.now();
    let detectedAt = -1;
    const sub = this.supervisor.events.subscribe((e: SupervisorEvent) => {
      if (e.type === 'link-dead' && e.host === d.host.name) detectedAt = performance.now();
    });
    try {
      switch (fault) {
        case 'detach':
          await this.o.lab.usbip.detach(a.vhciPort);
          break;
        case 'unplug':
          await ex.unbind(d.busid);
          break;
        case 'drop':
          await ex.dropConnection(d.busid);
          break;
        case 'restart':
          await ex.restart(this.supervisor.resolved().filter((x) => x.host.name === d.host.name).map((x) => x.busid));
          break;
        case 'link':
          await this.exec(this.o.link!.down);
          break;
      }
      // The import is gone once the kernel unplugged it (vhci status), or the heartbeat detached it.
      while (this.supervisor.attachment(dongle)) {
        if (performance.now() - t0 > limit) throw new StressOptionError(`${fault} on ${dongle}: the import was still there after ${limit} ms`);
        await this.supervisor.tickNow();
        if (this.supervisor.attachment(dongle)) await sleep(20);
      }
      this.figures.lossMs.push(performance.now() - t0);
      if (fault === 'link' && detectedAt >= 0) this.figures.detectMs.push(detectedAt - t0);
    } finally {
      sub.unsubscribe();
      // Put the exporter or the network back so that a later plug can attach.
      if (fault === 'unplug') await ex.bind(d.busid).catch((err: unknown) => log.warn({ err, dongle }, 'binding the device again failed'));
      if (fault === 'link') await this.exec(this.o.link!.up).catch((err: unknown) => log.warn({ err }, 'bringing the link back failed'));
    }
    this.figures.faults[fault]++;
    this.connected.set(dongle, false);
    return 'ok';
  }

  private async exec(argv: readonly string[]): Promise<void> {
    const r = await this.run(argv);
    if (r.code !== 0) throw new StressOptionError(`${argv.join(' ')} failed: ${r.stderr.trim() || `exit ${String(r.code)}`}`);
  }

  isConnected(dongle: string): boolean {
    return this.connected.get(dongle) ?? false;
  }

  /** The lab dongle a host device is: its bus-port is an import's local bus ID (kept per attachment). */
  dongleOf(host: HostDevice): string | undefined {
    const known = this.seen.get(host);
    if (known) return known;
    const loc = host.location;
    if (!loc) return undefined;
    const busid = `${loc.busNumber}-${loc.portNumbers.join('.')}`;
    const a = this.supervisor.attachments().find((x) => x.localBusid === busid);
    if (a) this.seen.set(host, a.dongle);
    return a?.dongle;
  }

  hostGone(host: HostDevice): boolean {
    return (host as { attached?: boolean }).attached === false;
  }

  resources(): DongleResources | undefined {
    return undefined;
  }

  async flush(): Promise<void> {
    await sleep(10);
  }

  async restore(): Promise<void> {
    for (const [d, on] of this.connected) if (!on) await this.setConnected(d, true).catch((err: unknown) => log.error({ err, dongle: d }, 'could not attach it again'));
  }

  async disconnectAll(): Promise<void> {
    // A remote lab stays attached.
  }

  async close(): Promise<void> {
    if (this.started) {
      await this.restore();
      await this.supervisor.stop();
    }
    await this.o.backend.close();
  }
}
