// Keeps the lab's wanted dongles imported: USB/IP never re-attaches by itself, and notices a
// silent network loss only when TCP gives up (minutes). Every heartbeat interval the supervisor
// probes each exporter (heartbeat.ts); after `misses` failed probes in a row the link is dead:
// it detaches that host's imports (the kernel unplugs them, so users get PortDisconnectedError
// now rather than a hang) and re-attaches them once the exporter answers again. Imports the
// kernel dropped by itself (the exporter unbound the device, closed the connection, restarted)
// show in the vhci status files and are re-attached the same way.
import { Subject } from 'rxjs';
import { childLog } from '../log.ts';
import { probeTcp, readVhciStatus, type Probe, type VhciReader } from './heartbeat.ts';
import type { HeartbeatSettings } from './lab-file.ts';
import type { Attachment, Lab, ResolvedDongle } from './lab.ts';
import { VDEV_ST_USED } from './usbip-output.ts';

const log = childLog('lab.supervisor');

export type SupervisorEvent =
  | { type: 'link-dead'; host: string; at: number; /** since the last probe that answered */ silentMs: number }
  | { type: 'link-up'; host: string; at: number; downMs: number }
  | { type: 'lost'; dongle: string; at: number; vhciPort: number; why: 'kernel' | 'link-dead' }
  | { type: 'attached'; dongle: string; at: number; attachment: Attachment; /** since it was lost, if it was */ afterMs: number | null }
  | { type: 'attach-failed'; dongle: string; at: number; error: string };

export interface SupervisorOptions {
  heartbeat?: HeartbeatSettings;
  probe?: Probe;
  vhci?: VhciReader;
  now?: () => number;
}

interface HostState {
  up: boolean;
  misses: number;
  lastOk: number;
  downAt: number;
}

export class LabSupervisor {
  readonly events = new Subject<SupervisorEvent>();
  private readonly hb: HeartbeatSettings;
  private readonly probe: Probe;
  private readonly vhci: VhciReader;
  private readonly now: () => number;
  private dongles: ResolvedDongle[] = [];
  private readonly wanted = new Set<string>();
  private readonly attached = new Map<string, Attachment>();
  private readonly lostAt = new Map<string, number>();
  private readonly busy = new Map<string, number>();
  private readonly hosts = new Map<string, HostState>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ticking: Promise<void> | null = null;
  private running = false;

  constructor(
    readonly lab: Lab,
    o: SupervisorOptions = {},
  ) {
    this.hb = o.heartbeat ?? lab.description.heartbeat;
    this.probe = o.probe ?? probeTcp;
    this.vhci = o.vhci ?? (() => readVhciStatus());
    this.now = o.now ?? (() => performance.now());
  }

  /** Resolves the lab's dongles, learns the imports already there, and starts the heartbeat. */
  async start(want: 'all' | readonly string[] = 'all'): Promise<void> {
    this.dongles = await this.lab.resolve();
    const names = want === 'all' ? this.dongles.map((d) => d.name) : (await this.lab.select(want)).map((d) => d.name);
    for (const n of names) this.wanted.add(n);
    for (const a of await this.lab.attachments(this.dongles)) this.attached.set(a.dongle, a);
    const t = this.now();
    for (const h of this.lab.description.hosts) this.hosts.set(h.name, { up: true, misses: 0, lastOk: t, downAt: -1 });
    this.running = true;
    await this.tick();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    this.events.complete();
  }

  /** Whether the supervisor keeps this dongle imported (false: it leaves it detached). */
  want(dongle: string, on: boolean): void {
    if (!this.dongles.some((d) => d.name === dongle)) throw new Error(`no dongle '${dongle}' in the lab`);
    if (on) this.wanted.add(dongle);
    else this.wanted.delete(dongle);
  }

  attachment(dongle: string): Attachment | undefined {
    return this.attached.get(dongle);
  }

  attachments(): Attachment[] {
    return [...this.attached.values()];
  }

  /** The lab's dongles, resolved (after start). */
  resolved(): readonly ResolvedDongle[] {
    return this.dongles;
  }

  dongle(name: string): ResolvedDongle | undefined {
    return this.dongles.find((d) => d.name === name);
  }

  hostUp(host: string): boolean {
    return this.hosts.get(host)?.up ?? false;
  }

  /** Runs a heartbeat now (after the one in progress, if any). */
  async tickNow(): Promise<void> {
    await this.ticking;
    await this.tick();
  }

  /** Forgets an import the caller detached itself (so it does not count as lost). */
  forget(dongle: string): void {
    this.attached.delete(dongle);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick().finally(() => this.schedule());
    }, this.hb.intervalMs);
    // The heartbeat alone never keeps a process alive (the command or the run holding it does).
    this.timer.unref?.();
  }

  private tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.beat()
      .catch((err: unknown) => log.warn({ err }, 'heartbeat failed'))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  private emit(e: SupervisorEvent): void {
    log.info(e, e.type);
    this.events.next(e);
  }

  private async beat(): Promise<void> {
    const relevant = this.lab.description.hosts.filter((h) => this.dongles.some((d) => d.host.name === h.name && (this.wanted.has(d.name) || this.attached.has(d.name))));
    const probes = await Promise.all(relevant.map((h) => this.probe(h.address, h.port, this.hb.timeoutMs)));
    const t = this.now();
    for (let i = 0; i < relevant.length; i++) {
      const h = relevant[i]!;
      const st = this.hosts.get(h.name)!;
      if (probes[i]) {
        st.misses = 0;
        st.lastOk = t;
        if (!st.up) {
          st.up = true;
          this.emit({ type: 'link-up', host: h.name, at: t, downMs: t - st.downAt });
        }
        continue;
      }
      st.misses++;
      if (!st.up || st.misses < this.hb.misses) continue;
      st.up = false;
      st.downAt = t;
      this.emit({ type: 'link-dead', host: h.name, at: t, silentMs: t - st.lastOk });
      for (const a of [...this.attached.values()].filter((x) => x.host === h.name)) {
        // Detaching shuts the stuck socket down; vhci_hcd unplugs the device at once.
        await this.lab.usbip.detach(a.vhciPort).catch((err: unknown) => log.warn({ err, dongle: a.dongle }, 'detaching a dead import failed'));
        this.lose(a, 'link-dead');
      }
    }
    const ports = await this.vhci();
    if (ports.length > 0) {
      for (const a of [...this.attached.values()]) {
        const p = ports.find((x) => x.port === a.vhciPort);
        if (!p || p.status !== VDEV_ST_USED) this.lose(a, 'kernel');
      }
    }
    for (const d of this.dongles) {
      if (!this.running || !this.wanted.has(d.name) || this.attached.has(d.name) || !this.hostUp(d.host.name)) continue;
      await this.reattach(d);
    }
  }

  private lose(a: Attachment, why: 'kernel' | 'link-dead'): void {
    if (!this.attached.delete(a.dongle)) return;
    const t = this.now();
    this.lostAt.set(a.dongle, t);
    this.emit({ type: 'lost', dongle: a.dongle, at: t, vhciPort: a.vhciPort, why });
  }

  private async reattach(d: ResolvedDongle): Promise<void> {
    // The dongles were resolved at start: attach by bus ID, then one `usbip port` (no look-ups:
    // every subprocess costs, and a re-attach is on the clock).
    let error = 'attached but not enumerated yet';
    const attached = await this.lab.usbip
      .attach(d.host.address, d.busid, d.host.port)
      .then(() => this.lab.attachments(this.dongles))
      .catch((err: unknown) => {
        error = err instanceof Error ? err.message : String(err);
        return [];
      });
    let a = attached.find((x) => x.dongle === d.name);
    // `usbip port` can lag the attach: the kernel enumerates the import after attach returns.
    for (let i = 0; a && a.localBusid === null && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      a = (await this.lab.attachments(this.dongles).catch(() => [])).find((x) => x.dongle === d.name) ?? a;
    }
    const t = this.now();
    if (a && a.localBusid !== null) {
      this.attached.set(d.name, a);
      this.busy.delete(d.name);
      const lost = this.lostAt.get(d.name);
      this.lostAt.delete(d.name);
      this.emit({ type: 'attached', dongle: d.name, at: t, attachment: a, afterMs: lost === undefined ? null : t - lost });
      return;
    }
    this.emit({ type: 'attach-failed', dongle: d.name, at: t, error });
    // After a silent loss the exporter may still hold our old connection ("Device busy") until
    // its TCP notices; when we reach the exporter and the device was ours, close it there.
    if (/busy/i.test(error) && this.lostAt.has(d.name) && d.host.exporterVia !== undefined) {
      const n = (this.busy.get(d.name) ?? 0) + 1;
      this.busy.set(d.name, n);
      if (n >= 2) {
        await this.lab.exporter(d.host.name).dropConnection(d.busid).catch((err: unknown) => log.warn({ err, dongle: d.name }, 'closing the stale connection failed'));
        this.busy.delete(d.name);
      }
    }
  }
}
