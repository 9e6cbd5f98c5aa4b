// The fuzzer's frame: a fresh stack per case (mock host, usb subsystem, ftdi_sio and pl2303
// registered), the end-of-case checks every target shares (no crash, no unhandled rejection, no
// hang, typed errors, bound-or-unbound, the stress harness's leak checks), and the fast-check
// runner that counts outcome kinds and prints the seed and path of a failure so it replays.
import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import {
  DriverModel,
  inspectDriver,
  FTDI_IDS,
  PL2303_ID_TABLE,
  UsbSubsystem,
  ftdiSerialDriver,
  pl2303Driver,
  usbSerialBusOf,
  type AnyDriver,
  type UsbSerialRegistration,
  type UsbDevice,
  type UsbSerialPort,
} from '../../src/index.ts';
import { createStack, type UsbSerialStack } from '../../src/stack.ts';
import type { UsbSerialDriverSet } from '../../src/serial/driver-set.ts';
import { MockUsbHost, type MockUsbDevice, type PlugOptions } from '../../mocks/index.ts';
import { macrotask } from '../helpers/async.ts';
import { startStarvationWatchdog, type StarvationWatchdog } from './starvation-watchdog.ts';

/** A broken invariant: the case fails with this (fast-check then shrinks it). */
export class FuzzViolation extends Error {
  override readonly name = 'FuzzViolation';
}

/** Error names that mean "the code tripped", not "the request failed and says why". */
const UNTYPED = new Set(['Error', 'TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'AggregateError']);

/** A rejected user call must say what failed with an error of its own kind (CoreError, a driver's, a transfer's). */
export function typedErrorName(err: unknown, what: string): string {
  if (!(err instanceof Error)) throw new FuzzViolation(`${what} rejected with a non-Error: ${String(err)}`);
  if (UNTYPED.has(err.name)) throw new FuzzViolation(`${what} failed with an untyped ${err.name}: ${err.message}\n${err.stack ?? ''}`);
  return err.name;
}

// ---- process-level crash catching ------------------------------------------------------------

/**
 * Records unhandled rejections and uncaught exceptions while installed. The mock host rethrows a
 * hotplug listener's exception on a later macrotask, so crashes in the bus's listener land here.
 */
export class CrashTrap {
  readonly crashes: string[] = [];
  private readonly onRejection = (reason: unknown) => {
    this.crashes.push(`unhandled rejection: ${describe(reason)}`);
  };
  private readonly onException = (err: unknown) => {
    this.crashes.push(`uncaught exception: ${describe(err)}`);
  };
  private installed = false;

  install(): void {
    if (this.installed) return;
    this.installed = true;
    process.on('unhandledRejection', this.onRejection);
    // Prepended so a crash is recorded against the case even where a test runner also listens.
    process.prependListener('uncaughtException', this.onException);
  }

  uninstall(): void {
    if (!this.installed) return;
    this.installed = false;
    process.off('unhandledRejection', this.onRejection);
    process.off('uncaughtException', this.onException);
  }

  /** Throws for crashes recorded since the last call. */
  check(): void {
    const got = this.crashes.splice(0);
    if (got.length) throw new FuzzViolation(got.join('\n'));
  }
}

function describe(x: unknown): string {
  return x instanceof Error ? `${x.name}: ${x.message}\n${x.stack ?? ''}` : String(x);
}

/** Every case ends within this (a hang is a failure, with what was still running). */
export const WATCHDOG_MS = 4000;
/** The watchdog's clock: it counts ticks of this timer, not wall time (see withWatchdog). */
const WATCHDOG_TICK_MS = 50;

/**
 * Rejects with a hang when `p` has not settled within `ms`, counted in ticks of a timer: a
 * process the machine does not run for a while (eight test runs on two cores) sees one late
 * tick where wall time would have run the bound out, while an idle hang still ends after `ms`.
 * A synchronous or promise-job loop starves every timer, this one and mocha's timeout alike: the
 * starvation watchdog (a worker thread, see starvation-watchdog.ts) is the bound there.
 */
export async function withWatchdog<T>(what: string, p: Promise<T>, ms = WATCHDOG_MS): Promise<T> {
  let timer: ReturnType<typeof setInterval> | undefined;
  const dog = new Promise<never>((_, reject) => {
    let ticks = Math.max(1, Math.ceil(ms / WATCHDOG_TICK_MS));
    timer = setInterval(() => {
      if (--ticks === 0) reject(new FuzzViolation(`hang: ${what} did not finish within ${ms} ms`));
    }, Math.min(ms, WATCHDOG_TICK_MS));
  });
  try {
    return await Promise.race([p, dog]);
  } finally {
    clearInterval(timer);
  }
}


// ---- the stack --------------------------------------------------------------------------------

export interface FuzzStack {
  readonly host: MockUsbHost;
  readonly model: DriverModel;
  readonly usb: UsbSubsystem;
  readonly reg: UsbSerialRegistration[];
  /** Plugs and waits until the bus has applied it. */
  plug(dev: MockUsbDevice, at?: string, options?: PlugOptions): Promise<void>;
  /** Waits until every queued hotplug event and bind has been applied. */
  settle(): Promise<void>;
  portsOf(dev: MockUsbDevice): UsbSerialPort[];
  usbDeviceOf(dev: MockUsbDevice): UsbDevice | undefined;
  /** Port event streams seen, to check each completes once its port is removed. */
  watchPort(port: UsbSerialPort): void;
  /** The bound-or-unbound and leak checks while devices are plugged (quiescent). */
  checkPlugged(devices: readonly MockUsbDevice[]): void;
  /** Unplugs everything, then the leak checks of an empty bus; tears the stack down. */
  finish(devices: readonly MockUsbDevice[]): Promise<void>;
  /** Best-effort teardown after a failed case (no checks); a no-op after finish. */
  dispose(): Promise<void>;
}

/** The driver sets the fuzzer drives devices through. */
export const fuzzDriverSets = (): UsbSerialDriverSet[] => [
  { name: 'ftdi_sio', specs: [ftdiSerialDriver], ids: FTDI_IDS },
  { name: 'pl2303', specs: [pl2303Driver], ids: PL2303_ID_TABLE },
];

/**
 * Tears a fuzz stack down. The driver sets are deregistered first, one by one, so a failing
 * deregistration throws (a finding) instead of being logged as stack.close() would; then the
 * bus stops and the host closes.
 */
export async function closeFuzzStack(stack: UsbSerialStack): Promise<void> {
  for (const r of [...stack.registrations]) if (r.state === 'registered') await stack.deregister(r);
  await stack.close();
}

export async function fuzzStack(): Promise<FuzzStack> {
  const host = new MockUsbHost();
  const stack = await createStack({ host, driverSets: fuzzDriverSets(), order: 'host-first' });
  const { model, usb } = stack;
  const reg = [...stack.registrations];
  const serialBus = usbSerialBusOf(usb.bus);
  const settle = async () => {
    await host.flush();
    await usb.settled();
  };
  const streams = new Map<UsbSerialPort, { closed: boolean }>();
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    host.unplugAll();
    await settle();
    await closeFuzzStack(stack);
  };

  const usbDeviceOf = (d: MockUsbDevice): UsbDevice | undefined => {
    const att = host.attachmentOf(d);
    return att ? usb.deviceFor(att) : undefined;
  };
  const portsOf = (d: MockUsbDevice) => reg.flatMap((r) => r.ports()).filter((p) => p.serial.usbDevice.usb === d);

  const drivers = (): AnyDriver[] => [...usb.bus.listDrivers(), ...serialBus.listDrivers()] as AnyDriver[];

  const leakChecks = (label: string): void => {
    for (const d of drivers()) {
      const snap = inspectDriver(d);
      if (snap.pinCount > 0) throw new FuzzViolation(`leaked-pin (${label}): ${snap.bus} driver '${d.name}' holds ${snap.pinCount} pin(s): ${snap.pins.map((p) => p.takenAt).join('; ')}`);
      const bus = d.bus as { getDevice(name: string): { driver: unknown } | undefined };
      for (const name of snap.boundDevices) {
        if (bus.getDevice(name)?.driver !== d) throw new FuzzViolation(`one-driver-per-device (${label}): ${name} is in '${d.name}''s bound devices but bound elsewhere`);
      }
    }
    const live = serialBus.listDevices().length;
    if (serialBus.minors.inUse !== live) throw new FuzzViolation(`leaked-minor (${label}): ${serialBus.minors.inUse} ttyUSB minor(s) in use for ${live} port(s)`);
    for (const [port, s] of streams) {
      if (port.state === 'dead' && !s.closed) throw new FuzzViolation(`leaked-listener (${label}): ${port.name} was removed but its event stream never completed`);
    }
  };

  return {
    host,
    model,
    usb,
    reg,
    async plug(dev, at, options) {
      host.plug(dev, at, options);
      await settle();
    },
    settle,
    dispose,
    portsOf,
    usbDeviceOf,
    watchPort(port) {
      if (streams.has(port)) return;
      const s = { closed: false };
      streams.set(port, s);
      port.events.subscribe({ complete: () => void (s.closed = true), error: () => void (s.closed = true) });
    },
    checkPlugged(devices) {
      leakChecks('plugged');
      for (const d of devices) {
        if (!d.plugged) continue;
        const r = d.resources();
        const dev = usbDeviceOf(d);
        const bound = new Set<number>();
        for (const i of dev?.interfaces ?? []) {
          if (i.driver !== null) bound.add(i.interfaceNumber);
          if (i.claimed && i.driver === null) throw new FuzzViolation(`leaked-claim: ${i.name} is claimed with no driver bound`);
          // Bound correctly: usb-serial binds an interface only with the endpoints its driver needs.
          if (i.driver !== null && (!i.endpoint('in', 'bulk') || !i.endpoint('out', 'bulk'))) {
            throw new FuzzViolation(`bound wrongly: ${i.name} is bound to ${i.driver.name} without bulk IN and OUT endpoints`);
          }
        }
        const stray = r.claimedInterfaces.filter((n) => !bound.has(n));
        if (stray.length) throw new FuzzViolation(`leaked-claim: interface(s) ${stray.join(', ')} of ${d.vendorId.toString(16)}:${d.productId.toString(16)} claimed with no driver bound`);
        if (bound.size === 0) {
          if (r.opened) throw new FuzzViolation('leaked-claim: device left open with no driver bound');
          if (r.pendingTransfers > 0) throw new FuzzViolation(`leaked-transfer: ${r.pendingTransfers} transfer(s) pending with no driver bound`);
          const n = dev ? getEventListeners(dev.disconnected, 'abort').length : 0;
          if (n > 0) throw new FuzzViolation(`leaked-listener: ${n} 'abort' listener(s) on the disconnect signal with no driver bound`);
        }
        // One port per bound adapter at least; none for an unbound device.
        if (bound.size === 0 && portsOf(d).length > 0) throw new FuzzViolation('a port outlives its adapter');
      }
    },
    async finish(devices) {
      host.unplugAll();
      await settle();
      await macrotask();
      for (const d of devices) {
        const r = d.resources();
        if (r.plugged || r.opened || r.claimedInterfaces.length || r.pendingTransfers) {
          throw new FuzzViolation(`leaked-claim: unplugged device still shows ${JSON.stringify(r)}`);
        }
      }
      for (const r of reg) {
        if (r.adapters().length || r.ports().length) throw new FuzzViolation(`${r.usbDriver.name}: adapters or ports left after every device was unplugged`);
      }
      leakChecks('unplugged');
      // The drivers as they were registered: once deregistered they are off the bus's lists, and
      // must hold no pin and keep no dynamic ID (written through new_id during the case).
      const registered = drivers();
      await dispose();
      for (const d of registered) {
        const snap = inspectDriver(d);
        if (snap.pinCount > 0) throw new FuzzViolation(`leaked-pin: '${d.name}' holds ${snap.pinCount} pin(s) after its deregistration resolved`);
        if (snap.dynamicIds.length > 0) throw new FuzzViolation(`leaked-dynamic-id: '${d.name}' keeps ${snap.dynamicIds.length} dynamic ID(s) after its deregistration resolved`);
      }
    },
  };
}

// ---- running a target -------------------------------------------------------------------------

/** No timer turn for this long ends the process (FUZZ_STARVE_MS): see starvation-watchdog.ts. */
const STARVE_MS = 30_000;
/** One case running this long, timers turning, ends the process (FUZZ_CASE_LIMIT_MS). */
const CASE_LIMIT_MS = 300_000;

let processWatchdog: StarvationWatchdog | undefined;

/** The process's one starvation watchdog, started by the first target run (reports go to FUZZ_REPORT_DIR, default reports/). */
export function starvationWatchdog(): StarvationWatchdog {
  processWatchdog ??= startStarvationWatchdog({
    starveMs: Number(process.env.FUZZ_STARVE_MS ?? STARVE_MS),
    caseMs: Number(process.env.FUZZ_CASE_LIMIT_MS ?? CASE_LIMIT_MS),
    reportDir: process.env.FUZZ_REPORT_DIR ?? 'reports',
  });
  return processWatchdog;
}

export interface TargetResult {
  target: string;
  cases: number;
  seconds: number;
  casesPerSecond: number;
  /** Outcome kind -> count. */
  outcomes: Map<string, number>;
}

export interface RunOptions {
  numRuns: number;
  seed: number;
  /** fast-check's replay path (with the seed of a failure). */
  path?: string;
}

/** Seed and runs from the environment: FUZZ_SEED / FUZZ_PATH replay a failure, FUZZ_RUNS scales. */
export function runOptions(defaultRuns: number): RunOptions {
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 0x15f022;
  const numRuns = process.env.FUZZ_RUNS !== undefined ? Number(process.env.FUZZ_RUNS) : defaultRuns;
  return { seed, numRuns, ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}) };
}

/**
 * Runs an async target: each case returns its outcome kind (a short string) or throws a
 * FuzzViolation. A failure is shrunk by fast-check and reported with its seed and path, and the
 * command line that replays it.
 */
export async function runTarget<T>(
  target: string,
  arb: fc.Arbitrary<T>,
  body: (input: T) => Promise<string>,
  opts: RunOptions,
): Promise<TargetResult> {
  const outcomes = new Map<string, number>();
  const dog = starvationWatchdog();
  const trap = new CrashTrap();
  trap.install();
  // The emulations' timers are unref'd: outside a test runner nothing else keeps the process up
  // while a case waits on them.
  const keepAlive = setInterval(() => undefined, 1000);
  const t0 = performance.now();
  let cases = 0;
  let attempt = 0;
  let shrinking = false;
  try {
    const prop = fc.asyncProperty(arb, async (input) => {
      // What the watchdog names if this case never ends: fast-check runs case k of a seed as path k.
      const run = attempt++;
      const where = opts.path
        ? `replaying path ${opts.path}, attempt ${run}`
        : shrinking
          ? `shrinking a failure, attempt ${run}`
          : `run ${run} (replay: FUZZ_SEED=${opts.seed} FUZZ_PATH=${run} FUZZ_TARGET=${target} npm run test:file -- test/fuzz/fuzz.test.ts)`;
      dog.caseStarted(`fuzz target '${target}', seed ${opts.seed}, ${where}: ${fc.stringify(input)}`);
      try {
        trap.crashes.length = 0;
        const kind = await withWatchdog(`${target} case`, body(input));
        // A rejection nobody handled surfaces a microtask or a macrotask later.
        await macrotask();
        trap.check();
        cases++;
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
      } catch (err) {
        shrinking = true;
        throw err;
      } finally {
        dog.caseEnded();
      }
    });
    const details = await fc.check(prop, { seed: opts.seed, numRuns: opts.numRuns, ...(opts.path ? { path: opts.path } : {}) });
    if (details.failed) {
      const replay = `FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''} FUZZ_TARGET=${target} npm run test:file -- test/fuzz/fuzz.test.ts`;
      const err = details.errorInstance;
      throw new FuzzViolation(
        `fuzz target '${target}' failed after ${details.numRuns} case(s) (seed ${details.seed}, path ${details.counterexamplePath ?? '-'}, shrunk ${details.numShrinks} time(s))\n` +
          `minimal case: ${fc.stringify(details.counterexample)}\n` +
          `replay: ${replay}\n` +
          `cause: ${err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err)}`,
      );
    }
  } finally {
    clearInterval(keepAlive);
    trap.uninstall();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { target, cases, seconds, casesPerSecond: cases / seconds, outcomes };
}
