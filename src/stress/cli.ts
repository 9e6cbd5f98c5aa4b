// `usb-harness stress`: the stress harness from the command line. On the mock lab (--mock-lab)
// by default logical time, replayable by seed, shrunk on failure; on a real lab it power-cycles
// our dongles through hubs with per-port power switching (--dry-run lists them first).
import { Option, type Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { childLog } from '../log.ts';
import { createHostBackend, isHostBackendName, NoUsbSubsystemError, type HostBackend, type HostBackendName } from '../usb/index.ts';
import type { VirtualClock } from './clock.ts';
import { formatHubListing, HubControl } from './hubs.ts';
import { formatSeed, parseSeed, randomSeed } from './random.ts';
import { summaryLines, writeReports, jsonReport } from './report.ts';
import type { StressOptions, StressProgress, StressResult } from './options.ts';
import { runStress } from './run.ts';
import { parseRates, STEP_KINDS, StressOptionError, type Step } from './schedule.ts';
import { ourDevicePredicate, type StressDriverSet, type StressLab } from './target.ts';
import { usbipStressOptions } from './usbip-options.ts';

const log = childLog('stress.cli');

/** What the stress command needs from the program that registers it. */
export interface StressCommandContext {
  /** The driver sets to register (FTDI and PL2303): what real-hub runs use. */
  driverSets(): StressDriverSet[];
  /** Builds the built-in mock lab (mocks/lab.ts `createMockLab`). Called once per run (shrinking makes fresh ones). */
  createLab(): StressLab;
  /** The real host backend (default: createHostBackend(name)). */
  createBackend?(name: HostBackendName): Promise<HostBackend>;
  /** Where lines go (default stdout / stderr); tests capture them. */
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export const STRESS_EXIT = { ok: 0, violations: 1, usage: 2, noUsb: 3 } as const;

interface RawOptions {
  seed?: string;
  events?: string;
  cycles?: string;
  duration?: string;
  rates?: string;
  reportDir: string;
  report: boolean;
  json?: boolean;
  mockLab?: boolean;
  hotplug: 'plug' | 'power';
  dryRun?: boolean;
  force?: boolean;
  shrink: boolean;
  schedule?: string;
  lab?: string;
  backend: string;
  only?: string;
  progress: boolean;
  maxViolations?: string;
  udev: boolean;
  capture?: string;
  usbipLab?: string;
}

/** '30s', '5m', '1500ms', '2h' or plain seconds -> ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (!m) throw new StressOptionError(`duration '${text}' is not like 30s, 5m, 1500ms`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's').toLowerCase() as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * mult);
}

function positiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new StressOptionError(`${what} '${text}' is not a positive whole number`);
  return Number(text);
}

/** Reads a schedule file (a minimal-schedule.json, or a plain list of steps). */
export async function readSchedule(file: string): Promise<{ seed?: number; steps: Step[] }> {
  const fs = await import('node:fs/promises');
  let data: unknown;
  try {
    data = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new StressOptionError(`cannot read schedule '${file}': ${err instanceof Error ? err.message : String(err)}`);
  }
  const steps = Array.isArray(data) ? data : (data as { steps?: unknown }).steps;
  if (!Array.isArray(steps)) throw new StressOptionError(`schedule '${file}' has no list of steps`);
  steps.forEach((s: unknown, i) => {
    const x = s as Partial<Step>;
    if (typeof x !== 'object' || x === null || typeof x.n !== 'number' || typeof x.t !== 'number' || typeof x.turns !== 'number' || typeof x.target !== 'string' || !STEP_KINDS.includes(x.kind as Step['kind'])) {
      throw new StressOptionError(`schedule '${file}': step ${i} is not {n, t, turns, kind, target[, arg]}`);
    }
  });
  const seedText = (data as { seed?: unknown }).seed;
  return { steps: steps as Step[], ...(typeof seedText === 'string' ? { seed: parseSeed(seedText) } : {}) };
}

async function loadLabModule(spec: string): Promise<() => StressLab> {
  const path = await import('node:path');
  const url = await import('node:url');
  const mod = (await import(url.pathToFileURL(path.resolve(spec)).href)) as { createLab?: unknown; default?: unknown };
  const make = (mod.createLab ?? mod.default) as (() => StressLab) | undefined;
  if (typeof make !== 'function') throw new StressOptionError(`lab module '${spec}' exports no createLab() (or default) function`);
  return make;
}

/**
 * Adds `stress` to the program. Its action sets process.exitCode: 0 no violation, 1 violations,
 * 2 bad usage, 3 no USB here. The command object is returned for further options.
 */
export function registerStressCommand(program: Command, ctx: StressCommandContext): Command {
  const cmd = program
    .command('stress')
    .description('stress the driver core: seeded plug/unplug, registration churn, new_id, bind/unbind, traffic and signals, with invariants checked continuously')
    .option('--seed <n>', 'seed (decimal or 0x-hex); a random one is picked and printed otherwise')
    .option('--events <n>', 'stop after this many events')
    .option('--cycles <n>', 'stop after this many plug/unplug (power) cycles')
    .option('--duration <time>', 'stop after this long (30s, 5m, 1500ms)')
    .option('--rates <list>', `events per second by kind, e.g. hotplug=20,write=50 (kinds: ${['hotplug', 'registration', 'new_id', 'remove_id', 'bind', 'unbind', 'open', 'close', 'write', 'signals', 'check'].join(', ')})`)
    .option('--report-dir <dir>', 'where report.json and timeline.html go', 'reports/stress')
    .option('--no-report', 'write no report files')
    .option('--json', 'print the JSON report on stdout instead of the summary')
    .option('--mock-lab', 'run on the built-in emulated lab (logical time, replayable)')
    .addOption(new Option('--hotplug <how>', 'mock lab: unplug cables, or cut power through the emulated hub').choices(['plug', 'power']).default('plug'))
    .option('--dry-run', 'list the hubs with per-port power switching and the dongles behind them, change nothing')
    .option('--force', 'real hubs: also cycle ports with devices that are not ours')
    .option('--no-shrink', 'do not shrink a failing mock-lab run')
    .option('--schedule <file>', 'replay a saved schedule (e.g. minimal-schedule.json) instead of the seed\'s stream')
    .option('--lab <module>', 'mock lab from a module exporting createLab() (default: the built-in one)')
    .option('--backend <name>', 'real hubs: host backend (libusb, nusb, auto)', 'auto')
    .option('--only <paths>', 'real hubs: only these dongles, by port path (1-1.2,1-1.3)')
    .option('--usbip-lab <file>', 'remote dongles of a USB/IP lab (attached with `usb-harness lab attach`): unplugs are remote faults, plugs re-attach')
    .option('--no-progress', 'no progress bar')
    .option('--max-violations <n>', 'stop listing after this many violations')
    .option('--no-udev', 'no udev-like new_id writer')
    .option('--capture <file>', 'record the run\'s USB traffic to this pcapng file (a failing run\'s report gets the involved dongles\' capture either way)')
    .action(async (raw: RawOptions, command: Command) => {
      // --capture may also come as the program's own option, before `stress`.
      const capture = raw.capture ?? command.parent?.opts<{ capture?: string }>().capture;
      process.exitCode = await stressAction({ ...raw, ...(capture !== undefined ? { capture } : {}) }, ctx);
    });
  return cmd;
}

async function stressAction(raw: RawOptions, ctx: StressCommandContext): Promise<number> {
  const out = ctx.out ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const err = ctx.err ?? ((l: string) => void process.stderr.write(`${l}\n`));
  try {
    return await runFromCli(raw, ctx, out, err);
  } catch (e) {
    if (e instanceof StressOptionError || e instanceof RangeError) {
      err(`usb-harness stress: ${e.message}`);
      return STRESS_EXIT.usage;
    }
    if (e instanceof NoUsbSubsystemError) {
      err(`usb-harness stress: ${e.message}`);
      return STRESS_EXIT.noUsb;
    }
    const msg = e instanceof Error ? e.message : String(e);
    if (/LIBUSB_ERROR_ACCESS|EACCES|permission denied/i.test(msg)) {
      err(`usb-harness stress: ${msg}: no permission to open the hub or device (udev rule, or root) -- or run with --mock-lab`);
      return STRESS_EXIT.noUsb;
    }
    log.debug({ err: e }, 'stress failed');
    err(`usb-harness stress: ${msg}`);
    return STRESS_EXIT.violations;
  }
}

async function runFromCli(raw: RawOptions, ctx: StressCommandContext, out: (l: string) => void, err: (l: string) => void): Promise<number> {
  // Checked now; the runner applies them over the defaults of the lab it runs on.
  parseRates(raw.rates);
  const rates = raw.rates;
  const limits: Pick<StressOptions, 'events' | 'cycles' | 'durationMs'> = {};
  if (raw.events) limits.events = positiveInt(raw.events, '--events');
  if (raw.cycles) limits.cycles = positiveInt(raw.cycles, '--cycles');
  if (raw.duration) limits.durationMs = parseDuration(raw.duration);
  const schedule = raw.schedule ? await readSchedule(raw.schedule) : null;
  const seed = raw.seed !== undefined ? parseSeed(raw.seed) : (schedule?.seed ?? randomSeed());
  if (!schedule && limits.events === undefined && limits.cycles === undefined && limits.durationMs === undefined) limits.durationMs = 10_000;
  const maxViolations = raw.maxViolations ? positiveInt(raw.maxViolations, '--max-violations') : undefined;

  if (raw.dryRun) return dryRun(raw, ctx, out);

  let labFactory: (() => StressLab) | undefined;
  let hubs: StressOptions['hubs'];
  let usbip: StressOptions['usbip'];
  let command: string;
  if (raw.usbipLab && !raw.mockLab) {
    if (!isHostBackendName(raw.backend)) throw new StressOptionError(`unknown backend '${raw.backend}' (libusb, nusb, auto)`);
    usbip = await usbipStressOptions(raw.usbipLab, await (ctx.createBackend ?? createHostBackend)(raw.backend), ctx.driverSets());
    command = `usb-harness stress --usbip-lab ${raw.usbipLab} --backend ${raw.backend}`;
  } else if (raw.mockLab || raw.lab) {
    labFactory = raw.lab ? await loadLabModule(raw.lab) : () => ctx.createLab();
    command = `usb-harness stress --mock-lab${raw.lab ? ` --lab ${raw.lab}` : ''}${raw.udev ? '' : ' --no-udev'}`;
  } else {
    if (!isHostBackendName(raw.backend)) throw new StressOptionError(`unknown backend '${raw.backend}' (libusb, nusb, auto)`);
    const backend = await (ctx.createBackend ?? createHostBackend)(raw.backend);
    hubs = {
      backend,
      driverSets: ctx.driverSets(),
      ...(raw.force ? { force: true } : {}),
      ...(raw.only ? { only: raw.only.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    };
    command = `usb-harness stress --backend ${raw.backend}${raw.force ? ' --force' : ''}${raw.only ? ` --only ${raw.only}` : ''}`;
  }

  const bar = raw.progress && !raw.json && process.stderr.isTTY ? progressBar(limits) : null;
  let clock: VirtualClock | null = null;
  const onClock = (c: VirtualClock | null) => {
    clock = c;
    bar?.setClock(c);
  };
  if (!raw.json) err(`stress: seed ${formatSeed(seed)}${schedule ? `, ${schedule.steps.length} scheduled events` : ''}${labFactory ? ' on the mock lab' : usbip ? ' on remote dongles (USB/IP)' : ' on real hubs'}`);
  bar?.start();
  let result: StressResult;
  try {
    result = await runStress({
      seed,
      ...(rates ? { rates } : {}),
      ...limits,
      ...(labFactory ? { lab: labFactory } : {}),
      ...(hubs ? { hubs } : {}),
      ...(usbip ? { usbip } : {}),
      hotplug: raw.hotplug,
      ...(schedule ? { schedule: schedule.steps } : {}),
      shrink: raw.shrink,
      udev: raw.udev,
      ...(raw.capture !== undefined ? { capture: { file: raw.capture } } : {}),
      ...(maxViolations ? { maxViolations } : {}),
      command,
      onClock,
      onProgress: (p) => bar?.update(p),
    });
  } finally {
    bar?.stop();
    void clock;
  }
  let files: Awaited<ReturnType<typeof writeReports>> | null = null;
  if (raw.report) files = await writeReports(raw.reportDir, result);
  if (raw.json) out(jsonReport(result, files ? { files } : {}));
  else for (const l of summaryLines(result, { ...(files ? { reportDir: raw.reportDir } : {}), ...(files?.schedule ? { scheduleFile: files.schedule } : {}), ...(files?.captures ? { captures: files.captures } : {}) })) out(l);
  return result.ok ? STRESS_EXIT.ok : STRESS_EXIT.violations;
}

async function dryRun(raw: RawOptions, ctx: StressCommandContext, out: (l: string) => void): Promise<number> {
  if (raw.mockLab || raw.lab) {
    const lab = raw.lab ? (await loadLabModule(raw.lab))() : ctx.createLab();
    try {
      lab.plugAll();
      await lab.flush();
      const ours = new Set(lab.topology().dongles.map((d) => d.name));
      if (!lab.hubBackends) {
        out('this lab has no hubs');
        return STRESS_EXIT.ok;
      }
      const hc = new HubControl(lab.hubBackends, { isOurs: (h) => ours.has(lab.dongleOf(h) ?? ''), sysfsRoot: '' });
      for (const l of formatHubListing(await hc.listHubs())) out(l);
    } finally {
      await lab.close();
    }
    return STRESS_EXIT.ok;
  }
  if (!isHostBackendName(raw.backend)) throw new StressOptionError(`unknown backend '${raw.backend}' (libusb, nusb, auto)`);
  const backend = await (ctx.createBackend ?? createHostBackend)(raw.backend);
  try {
    const hc = new HubControl([backend], { isOurs: ourDevicePredicate(ctx.driverSets(), []) });
    for (const l of formatHubListing(await hc.listHubs())) out(l);
  } finally {
    await backend.close();
  }
  return STRESS_EXIT.ok;
}

/** The live bar: cycles, events/s, violations. Its timers stay on the wall clock under the virtual one. */
function progressBar(limits: Pick<StressOptions, 'events' | 'cycles' | 'durationMs'>) {
  const by: 'events' | 'cycles' | 'time' = limits.events ? 'events' : limits.cycles ? 'cycles' : 'time';
  const total = limits.events ?? limits.cycles ?? Math.round((limits.durationMs ?? 10_000) / 1000);
  const bar = new SingleBar(
    {
      format: ` {bar} {percentage}% | {events} events | {cycles} cycles | {eps} events/s | {violations} violations`,
      stream: process.stderr,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  let clock: VirtualClock | null = null;
  const render = bar.render.bind(bar);
  // The bar re-arms its own timer from render(): keep that on real time.
  (bar as unknown as { render: () => void }).render = () => (clock ? clock.real(render) : render());
  const real = <T>(fn: () => T): T => (clock ? clock.real(fn) : fn());
  const payload = (p?: StressProgress) => ({ events: p?.events ?? 0, cycles: p?.cycles ?? 0, eps: Math.round(p?.eventsPerSecond ?? 0), violations: p?.violations ?? 0 });
  return {
    setClock: (c: VirtualClock | null) => (clock = c),
    start: () => real(() => bar.start(total, 0, payload())),
    update: (p: StressProgress) => {
      const value = by === 'events' ? p.events : by === 'cycles' ? p.cycles : Math.min(total, Math.round(p.wallMs / 1000));
      real(() => bar.update(value, payload(p)));
    },
    stop: () => real(() => bar.stop()),
  };
}
