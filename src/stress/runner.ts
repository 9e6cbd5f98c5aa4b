// The stress run's loop: set the lab up, run the schedule step by step (each step executed by
// steps.ts, cheap checks after each), settle at checkpoints (full checks), tear down, and sum
// up the result. On the mock lab time is logical (src/stress/clock.ts): a seed replays the same
// run, event for event, outcome for outcome. On real hubs time is the wall clock; the seed still
// fixes the schedule, not the timing.
import { inspectBus } from '../core/index.ts';
import { fullChecks, stepChecks, ueventObservers } from './checks.ts';
import { escapedError, onLoss, onUdev, onUevent } from './observe.ts';
import type { StressResult } from './options.ts';
import { formatSeed } from './random.ts';
import { describeStep, formatRates, type Rates, type Step, type StepKind, type Topology, type TopologyLink } from './schedule.ts';
import { errCode, errMessage, SETUP, TEARDOWN, RunState } from './state.ts';
import { bind, close, deregister, hotplug, open, register, reportUndelivered, signals, unbind, write, writeId } from './steps.ts';
import type { MockTarget } from './target.ts';
import { realNow } from './time.ts';
import { LinkState } from './traffic.ts';
import { UdevRule } from './udev.ts';
import type { Invariant } from './monitor.ts';

export class StressRun extends RunState {
  get topology(): Topology {
    return this.topo;
  }

  /** Errors that escaped: unhandled rejections, exceptions, timer callbacks that threw. */
  escapedError(err: unknown, how: string): void {
    escapedError(this, err, how);
  }

  async setup(): Promise<void> {
    this.monitor.event = SETUP;
    await this.buildStack();
    this.uevSub = this.model.uevents.subscribe((e) => onUevent(this, e));
    const ev = (await import('node:events').catch(() => null)) as { getEventListeners?: (t: EventTarget, n: string) => unknown[] } | null;
    this.getEventListeners = ev?.getEventListeners ?? null;
    for (const s of this.target.driverSets) {
      this.sets.set(s.name, {
        name: s.name,
        specs: s.specs.map((spec) => this.watch.wrap(spec)),
        ids: s.ids,
        serialNames: s.specs.map((x) => x.name),
        phase: 'deregistered',
        reg: null,
        live: 0,
        attempt: null,
      });
    }
    const preTopo = this.target.kind === 'mock' ? (this.target as MockTarget).lab.topology() : null;
    if (this.o.udev !== false) {
      this.udev = new UdevRule(this.model, preTopo?.newIds ?? this.o.hubs?.newIds ?? [], (a) => onUdev(this, a));
      this.udev.start();
    }
    for (const s of this.sets.values()) await register(this, s, true);
    if (this.target.kind === 'mock') (this.target as MockTarget).lab.plugAll();
    await this.target.flush();
    await this.stack.attachHost();
    await this.settle('setup', false);
    this.topo = await this.target.describe({ ports: () => this.serialBus.listDevices() });
    for (const d of this.topo.dongles) {
      for (const p of d.ports) this.slots.set(p.slot, { info: p, ifKey: `${d.name}:if${p.interfaceNumber}`, phase: 'closed', port: null, signals: null, signalsAt: -1, openedAt: -1, signalsInFlight: 0 });
      this.lane(`dongle ${d.name}`, this.target.isConnected(d.name) ? 'plugged' : 'unplugged');
    }
    this.topo.links.forEach((l: TopologyLink, i) => {
      const ls = new LinkState(l.id, i, l.from, l.to, (loss) => onLoss(this, loss));
      this.links.set(l.id, ls);
      for (const s of new Set([l.from, l.to])) this.touching.set(s, [...(this.touching.get(s) ?? []), ls]);
      this.incoming.set(l.to, ls);
    });
    for (const s of this.sets.values()) this.lane(`driver ${s.name}`, s.phase);
    this.ueventBaseline = ueventObservers(this);
  }

  async run(steps: Iterator<Step>, limits: { events?: number; cycles?: number; durationMs?: number }): Promise<void> {
    for (;;) {
      if (this.stopped) break;
      if (limits.events !== undefined && this.events >= limits.events) break;
      if (limits.cycles !== undefined && this.cycles >= limits.cycles) break;
      if (limits.durationMs !== undefined && realNow() - this.wallStart >= limits.durationMs) break;
      const next = steps.next();
      if (next.done) break;
      const step = next.value;
      await this.time.advanceTo(step.t, step.turns);
      this.monitor.event = step.n;
      this.monitor.now = this.time.now();
      this.events++;
      await this.execute(step);
      stepChecks(this);
      if (this.inflight.size > 24) {
        const drained = await this.time.waitFor(() => this.activeOps() <= 12, this.o.settleLimitMs ?? 10_000);
        if (!drained) await this.settle('backlog');
      }
      this.progress(false);
    }
    this.progress(true);
  }

  progress(force: boolean): void {
    if (!this.o.onProgress) return;
    const now = realNow();
    if (!force && now - this.lastProgress < 100) return;
    this.lastProgress = now;
    const wallMs = now - this.wallStart;
    this.o.onProgress({
      events: this.events,
      cycles: this.cycles,
      violations: this.monitor.violations.length,
      wallMs,
      logicalMs: this.time.now(),
      eventsPerSecond: wallMs > 0 ? (this.events * 1000) / wallMs : 0,
    });
  }

  async execute(step: Step): Promise<void> {
    this.counts[step.kind].issued++;
    this.monitor.record(step.kind, step.target, step.arg ?? '');
    try {
      switch (step.kind) {
        case 'plug':
        case 'unplug':
          return await hotplug(this, step, step.kind === 'plug');
        case 'register': {
          const s = this.sets.get(step.target);
          if (!s) return this.finish(step, 'skip:unknown-set');
          if (s.phase === 'registering' || s.phase === 'registered') return this.finish(step, `skip:${s.phase}`);
          return await register(this, s, false, step);
        }
        case 'deregister':
          return deregister(this, step);
        case 'new_id':
        case 'remove_id':
          return writeId(this, step);
        case 'bind':
          return bind(this, step);
        case 'unbind':
          return unbind(this, step);
        case 'open':
          return open(this, step);
        case 'close':
          return close(this, step);
        case 'write':
          return write(this, step);
        case 'signals':
          return signals(this, step);
        case 'check':
          await this.settle(`check #${step.n}`);
          return this.finish(step, 'ok');
      }
    } catch (err) {
      this.finish(step, `error:${errCode(err)}`);
      this.monitor.violate('escaped-error', `step ${describeStep(step)} threw: ${errMessage(err)}`);
    }
  }

  /** Waits for quiet (operations, hotplug queues, bytes in flight), then checks everything. */
  async settle(label: string, checks = true): Promise<void> {
    const limit = this.o.settleLimitMs ?? 10_000;
    let done = false;
    const quiet = (async () => {
      for (let round = 0; round < 50; round++) {
        const ops = [...this.inflight].filter((o) => !o.stuck).map((o) => o.promise);
        await Promise.allSettled(ops);
        await this.target.flush();
        await this.usb.settled();
        if (this.activeOps() === 0) break;
      }
    })().then(() => (done = true));
    void quiet;
    const ok = await this.time.waitFor(() => done, limit);
    if (!ok) {
      const stuck = [...this.inflight].filter((o) => !o.stuck);
      for (const op of stuck) op.stuck = true;
      const pins = [inspectBus(this.usb.bus), inspectBus(this.serialBus)]
        .flatMap((b) => b.drivers)
        .filter((d) => d.pinCount > 0)
        .map((d) => `${d.bus}:${d.name} (${d.state}) pins: ${d.pins.map((p) => p.takenAt).join('; ')}`);
      const what = stuck.length ? stuck.map((o) => `${o.label} (event #${o.n})`).join(', ') : 'the USB hotplug queue';
      const invariant: Invariant = pins.length ? 'leaked-pin' : 'stuck';
      this.monitor.violate(invariant, `${what} did not finish within ${limit} ms (${label})${pins.length ? `; ${pins.join(' | ')}` : ''}`, { pins, ops: stuck.map((o) => o.label) });
      this.stopped ??= `stuck at ${label}`;
      return;
    }
    const delivered = await this.time.waitFor(() => [...this.links.values()].every((l) => l.undelivered === 0), this.o.drainLimitMs ?? 3000);
    if (!delivered) for (const l of this.links.values()) reportUndelivered(this, l, label);
    if (checks) await fullChecks(this, label);
  }

  async teardown(): Promise<void> {
    this.monitor.event = TEARDOWN;
    this.monitor.now = this.time.now();
    if (this.stopped?.startsWith('stuck')) return this.finalize();
    await this.settle('end of schedule');
    const stepOf = (kind: StepKind, target: string): Step => {
      this.counts[kind].issued++;
      return { n: TEARDOWN, t: this.time.now(), kind, target, turns: 0 };
    };
    for (const st of this.slots.values()) if (st.phase === 'open') close(this, stepOf('close', st.info.slot));
    await this.settle('closing every port');
    await this.target.restore();
    for (const s of this.sets.values()) if (s.phase === 'registered') deregister(this, stepOf('deregister', s.name));
    await this.settle('deregistering every driver set');
    await this.target.disconnectAll();
    await this.target.flush();
    await this.settle('unplugging every dongle');
    this.finalize();
  }

  finalize(): void {
    for (const l of this.links.values()) {
      l.endEpoch('end', TEARDOWN);
      l.finishAll();
    }
    this.udev?.stop();
    this.uevSub?.unsubscribe();
  }

  async shutdown(): Promise<void> {
    if (!this.stopped?.startsWith('stuck')) {
      await this.stack.close();
    }
  }

  /** Port power switches by method, when the run made any (power mode, real hubs). */
  private powerMethods(): Pick<StressResult, 'powerMethods'> {
    const m = this.target.powerMethods?.();
    return m && Object.keys(m).length > 0 ? { powerMethods: m } : {};
  }

  result(rates: Rates, base: Readonly<Rates>, hotplug: 'plug' | 'power', command: string): StressResult {
    const wallMs = realNow() - this.wallStart;
    let bytesReceived = 0;
    let bytesReported = 0;
    for (const l of this.links.values()) {
      bytesReceived += l.totalReceived;
      bytesReported += l.totalReported;
    }
    const ratesText = formatRates(rates, base);
    const extra = `${hotplug === 'power' && this.target.kind === 'mock' ? ' --hotplug power' : ''}${ratesText ? ` --rates ${ratesText}` : ''}`;
    return {
      ok: this.monitor.violations.length === 0 && this.monitor.suppressed === 0,
      seed: this.seed,
      target: this.target.kind,
      hotplug,
      rates,
      events: this.events,
      cycles: this.cycles,
      wallMs: Math.round(wallMs),
      logicalMs: Math.round(this.time.now()),
      eventsPerSecond: wallMs > 0 ? Math.round((this.events * 1000) / wallMs) : 0,
      counts: this.counts,
      checks: { ...this.monitor.checks },
      violations: this.monitor.violations,
      suppressedViolations: this.monitor.suppressed,
      losses: this.losses,
      lossSummary: this.lossSummary,
      traffic: { ...this.traffic, bytesReported, bytesReceived },
      udevWrites: this.udev?.writes ?? 0,
      driverCalls: { ...this.watch.calls },
      traceHash: this.monitor.traceHash,
      traceLength: this.monitor.traceLength,
      stoppedEarly: this.stopped,
      replay: {
        command: `${command} --seed ${formatSeed(this.seed)} --events ${this.events}${extra}`,
        seed: formatSeed(this.seed),
        events: this.events,
        rates: ratesText,
      },
      timeline: this.monitor.timeline,
      timelineDropped: this.monitor.timelineDropped,
      lanes: Object.fromEntries(this.lanes),
      topology: this.topo,
      ...this.powerMethods(),
    };
  }
}
