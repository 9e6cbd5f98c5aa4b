// One conformance suite for the host.ts contract, run against any HostBackend factory: the real
// libusb/nusb backends (hardware-tests/backends.hwtest.ts), the browser's navigator.usb, or the
// mock host (mocks/host.ts). Checks that need something the fixture did not provide (a device
// to exercise, an idle IN endpoint, a way to plug and unplug) are skipped with one printed line
// saying why: a skipped check never counts as a pass.
import { NoUsbSubsystemError, transferErrorKind, type HostBackend, type HostDevice, type HostEvent } from '../src/usb/host.ts';

export type BackendFactory = () => HostBackend | Promise<HostBackend>;

export interface ConformanceOptions {
  /**
   * The device to open, claim and exercise. Real backends must name one explicitly (claiming a
   * random device's interface would take it from its kernel driver). Absent: device checks skip.
   */
  pickDevice?: (devices: HostDevice[]) => HostDevice | undefined;
  /** Interface to claim; default: the active configuration's first interface. */
  interfaceNumber?: number;
  /**
   * A control IN request the device answers with a stall. Default: GET_DESCRIPTOR of an
   * undefined descriptor type (0x42), which USB 2.0 §9.4.3 has devices refuse with a Request
   * Error (a stall). null: skip the stall check.
   */
  stallRequest?: USBControlTransferParameters | null;
  /**
   * A bulk/interrupt IN endpoint of the claimed interface that sends nothing while idle.
   * `timeoutMs`: the backend's IN timeout, when it has one (enables the timeout check).
   */
  idleIn?: { endpointNumber: number; length?: number; timeoutMs?: number };
  /**
   * Removes and restores the picked device (a mock unplug, a hub port power cycle). The device
   * is plugged when the suite starts; after `plug()` it must appear again within `timeoutMs`.
   */
  hotplug?: { unplug(): void | Promise<void>; plug(): void | Promise<void>; timeoutMs?: number };
  /** Output for skip lines; default console.log. */
  log?: (line: string) => void;
}

/** Thrown by a check to skip, with the reason printed. */
export class ConformanceSkip extends Error {
  override readonly name = 'ConformanceSkip';
}

export interface ConformanceContext {
  readonly backend: HostBackend;
  readonly opts: ConformanceOptions;
  /** The picked device (re-picked after a hotplug check); throws ConformanceSkip if none. */
  device(): Promise<HostDevice>;
  /** Replaces the picked device (after a re-plug made a new attachment). */
  setDevice(device: HostDevice): void;
}

export interface ConformanceCheck {
  readonly name: string;
  run(ctx: ConformanceContext): Promise<void>;
}

// -- small assertion helpers (no test framework needed, so runConformance works anywhere) -----

class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ConformanceFailure(message);
}

async function rejectionOf(p: Promise<unknown>, what: string): Promise<Error> {
  try {
    const v = await p;
    throw new ConformanceFailure(`${what}: expected a rejection, got ${JSON.stringify(summary(v))}`);
  } catch (err) {
    if (err instanceof ConformanceFailure) throw err;
    return err as Error;
  }
}

function summary(v: unknown): unknown {
  const r = v as { status?: unknown; data?: DataView; bytesWritten?: unknown } | undefined;
  if (r && typeof r === 'object' && 'status' in r) {
    return { status: r.status, bytes: r.data?.byteLength ?? r.bytesWritten };
  }
  return v;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConformanceFailure(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records hotplug events; `next` waits for the next one matching. */
class EventRecorder {
  readonly events: HostEvent[] = [];
  private waiters: { pred: (e: HostEvent) => boolean; resolve: (e: HostEvent) => void; from: number }[] = [];
  private cursor = 0;

  readonly listener = (e: HostEvent): void => {
    this.events.push(e);
    for (const w of [...this.waiters]) {
      if (w.pred(e)) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(e);
      }
    }
  };

  next(pred: (e: HostEvent) => boolean, ms: number, what: string): Promise<HostEvent> {
    const seen = this.events.slice(this.cursor).find(pred);
    if (seen) {
      this.cursor = this.events.indexOf(seen) + 1;
      return Promise.resolve(seen);
    }
    const p = new Promise<HostEvent>((resolve) => {
      this.waiters.push({ pred, resolve, from: this.events.length });
    }).then((e) => {
      this.cursor = this.events.indexOf(e) + 1;
      return e;
    });
    return withTimeout(p, ms, what);
  }
}

// -- device sessions ------------------------------------------------------------------------

interface Session {
  hd: HostDevice;
  usb: USBDevice;
  iface: number;
}

/** open → (configure) → detach kernel driver if bound → claim; undone in reverse afterwards. */
async function withClaimed<T>(ctx: ConformanceContext, fn: (s: Session) => Promise<T>): Promise<T> {
  const hd = await ctx.device();
  const usb = hd.usb;
  await usb.open();
  let reattach = false;
  let iface = -1;
  try {
    check(usb.opened, 'open() resolved but usb.opened is false');
    if (!usb.configuration) {
      const first = usb.configurations[0];
      check(first, 'the device has no configurations');
      await usb.selectConfiguration(first.configurationValue);
    }
    const cfg = usb.configuration;
    check(cfg, 'no active configuration after selectConfiguration');
    iface = ctx.opts.interfaceNumber ?? cfg.interfaces[0]?.interfaceNumber ?? -1;
    check(iface >= 0, 'the active configuration has no interfaces');
    if (hd.kernelDriver && (await hd.kernelDriver.isActive(iface))) {
      await hd.kernelDriver.detach(iface);
      reattach = true;
      check(!(await hd.kernelDriver.isActive(iface)), `kernel driver still bound to interface ${iface} after detach`);
    }
    await usb.claimInterface(iface);
    return await fn({ hd, usb, iface });
  } finally {
    // Best effort: the device may be gone (the unplug check) or the check may have released.
    if (usb.opened) {
      if (iface >= 0) await usb.releaseInterface(iface).catch(() => undefined);
      await usb.close().catch(() => undefined);
    }
    if (reattach && hd.kernelDriver) await hd.kernelDriver.attach(iface).catch(() => undefined);
  }
}

function endpointOf(s: Session, direction: USBDirection, endpointNumber?: number): USBEndpoint | undefined {
  const iface = s.usb.configuration?.interfaces.find((i) => i.interfaceNumber === s.iface);
  return iface?.alternate.endpoints.find(
    (e) => e.direction === direction && (endpointNumber === undefined || e.endpointNumber === endpointNumber),
  );
}

function requireIdleIn(ctx: ConformanceContext): NonNullable<ConformanceOptions['idleIn']> {
  if (!ctx.opts.idleIn) throw new ConformanceSkip('no idle IN endpoint given (options.idleIn)');
  return ctx.opts.idleIn;
}

function requireHotplug(ctx: ConformanceContext): NonNullable<ConformanceOptions['hotplug']> {
  if (!ctx.opts.hotplug) throw new ConformanceSkip('no plug/unplug hooks given (options.hotplug)');
  return ctx.opts.hotplug;
}

const DEFAULT_STALL: USBControlTransferParameters = {
  requestType: 'standard',
  recipient: 'device',
  request: 0x06, // GET_DESCRIPTOR
  value: 0x4200, // descriptor type 0x42: not defined by any spec
  index: 0,
};

// -- the checks --------------------------------------------------------------------------------

export const CONFORMANCE_CHECKS: readonly ConformanceCheck[] = [
  {
    name: 'getDevices returns HostDevices with WebUSB descriptors',
    async run({ backend }) {
      const devices = await backend.getDevices();
      if (devices.length === 0) throw new ConformanceSkip('no devices attached');
      const keys = new Set<string>();
      for (const d of devices) {
        const where = `device ${d.key}`;
        check(typeof d.key === 'string' && d.key.length > 0, `a device has no key`);
        check(!keys.has(d.key), `${where}: key is not unique`);
        keys.add(d.key);
        check(Number.isInteger(d.maxTransfersInFlight) && d.maxTransfersInFlight >= 1, `${where}: maxTransfersInFlight ${d.maxTransfersInFlight}`);
        const u = d.usb;
        for (const f of ['vendorId', 'productId'] as const) {
          check(Number.isInteger(u[f]) && u[f] >= 0 && u[f] <= 0xffff, `${where}: ${f} ${String(u[f])}`);
        }
        for (const f of ['deviceClass', 'deviceSubclass', 'deviceProtocol', 'usbVersionMajor', 'deviceVersionMajor'] as const) {
          check(Number.isInteger(u[f]) && u[f] >= 0 && u[f] <= 0xff, `${where}: ${f} ${String(u[f])}`);
        }
        for (const f of ['manufacturerName', 'productName', 'serialNumber'] as const) {
          check(u[f] === null || u[f] === undefined || typeof u[f] === 'string', `${where}: ${f} is ${typeof u[f]}`);
        }
        check(typeof u.opened === 'boolean', `${where}: opened is not a boolean`);
        check(Array.isArray(u.configurations), `${where}: configurations is not an array`);
        for (const cfg of u.configurations) {
          check(Number.isInteger(cfg.configurationValue), `${where}: configurationValue`);
          for (const iface of cfg.interfaces) {
            check(Number.isInteger(iface.interfaceNumber), `${where}: interfaceNumber`);
            check(typeof iface.claimed === 'boolean', `${where}: interface ${iface.interfaceNumber} claimed`);
            check(iface.alternates.includes(iface.alternate) || iface.alternates.some((a) => a.alternateSetting === iface.alternate.alternateSetting), `${where}: interface ${iface.interfaceNumber}: alternate not among alternates`);
            for (const alt of iface.alternates) {
              for (const ep of alt.endpoints) {
                check(ep.endpointNumber >= 1 && ep.endpointNumber <= 15, `${where}: endpointNumber ${ep.endpointNumber}`);
                check(ep.direction === 'in' || ep.direction === 'out', `${where}: direction ${String(ep.direction)}`);
                check(['bulk', 'interrupt', 'isochronous'].includes(ep.type), `${where}: endpoint type ${String(ep.type)}`);
                check(Number.isInteger(ep.packetSize) && ep.packetSize > 0, `${where}: packetSize ${ep.packetSize}`);
              }
            }
          }
        }
        if (u.configuration) check(u.configurations.some((c) => c.configurationValue === u.configuration?.configurationValue), `${where}: active configuration not listed`);
        if (d.location) {
          check(Number.isInteger(d.location.busNumber), `${where}: location.busNumber`);
          check(Array.isArray(d.location.portNumbers) && d.location.portNumbers.every(Number.isInteger), `${where}: location.portNumbers`);
        }
        if (d.kernelDriver) {
          for (const f of ['isActive', 'detach', 'attach'] as const) check(typeof d.kernelDriver[f] === 'function', `${where}: kernelDriver.${f}`);
        }
      }
    },
  },
  {
    name: 'getDevices returns the same HostDevice objects across calls',
    async run({ backend }) {
      const a = await backend.getDevices();
      const b = await backend.getDevices();
      if (a.length === 0) throw new ConformanceSkip('no devices attached');
      const byKey = new Map(b.map((d) => [d.key, d]));
      for (const d of a) {
        const again = byKey.get(d.key);
        if (!again) continue; // unplugged in between
        check(again === d, `device ${d.key}: a different object on the second call`);
      }
    },
  },
  {
    name: 'watch resolves, and its stop function can be called (twice)',
    async run({ backend }) {
      const rec = new EventRecorder();
      const stop = await withTimeout(backend.watch(rec.listener), 5000, 'watch()');
      check(typeof stop === 'function', 'watch() did not resolve to a function');
      stop();
      stop();
    },
  },
  {
    name: 'watch delivers disconnect then connect in order, with the getDevices object',
    async run(ctx) {
      const hot = requireHotplug(ctx);
      const ms = hot.timeoutMs ?? 5000;
      const hd = await ctx.device();
      const rec = new EventRecorder();
      const stop = await ctx.backend.watch(rec.listener);
      try {
        await hot.unplug();
        const gone = await rec.next((e) => e.type === 'disconnect' && e.device.key === hd.key, ms, `disconnect of ${hd.key}`);
        check(gone.device === hd, 'the disconnect carried a different object than getDevices returned');
        check(!(await ctx.backend.getDevices()).includes(hd), 'getDevices still lists the unplugged device');
        await hot.plug();
        const back = await rec.next((e) => e.type === 'connect', ms, 'connect after plug');
        check(back.device !== hd, 'a new attachment reused the old HostDevice object');
        check(rec.events.indexOf(gone) < rec.events.indexOf(back), 'connect arrived before disconnect');
        const listed = await ctx.backend.getDevices();
        check(listed.includes(back.device), 'getDevices does not return the object the connect event carried');
        ctx.setDevice(back.device);
      } finally {
        stop();
      }
    },
  },
  {
    name: 'open, claim, control transfers in and out, release, close',
    async run(ctx) {
      await withClaimed(ctx, async (s) => {
        const { usb, iface } = s;
        const claimed = usb.configuration?.interfaces.find((i) => i.interfaceNumber === iface);
        check(claimed?.claimed === true, `interface ${iface} not marked claimed after claimInterface`);
        // GET_DESCRIPTOR(DEVICE): every device answers it.
        const r = await usb.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 0x06, value: 0x0100, index: 0 }, 18);
        check(r.status === 'ok', `GET_DESCRIPTOR(DEVICE) status ${r.status}`);
        check(r.data && r.data.byteLength === 18, `GET_DESCRIPTOR(DEVICE) returned ${r.data?.byteLength} bytes`);
        check(r.data.getUint8(1) === 1, 'GET_DESCRIPTOR(DEVICE): bDescriptorType is not 1');
        check(r.data.getUint16(8, true) === usb.vendorId, 'GET_DESCRIPTOR(DEVICE): idVendor differs from usb.vendorId');
        check(r.data.getUint16(10, true) === usb.productId, 'GET_DESCRIPTOR(DEVICE): idProduct differs from usb.productId');
        // A control OUT without a data stage and without the data argument (nusb 3.1 threw here).
        const ep = endpointOf(s, 'in') ?? endpointOf(s, 'out');
        const setup: USBControlTransferParameters = ep
          ? { requestType: 'standard', recipient: 'endpoint', request: 0x01, value: 0, index: (ep.direction === 'in' ? 0x80 : 0) | ep.endpointNumber } // CLEAR_FEATURE(ENDPOINT_HALT)
          : { requestType: 'standard', recipient: 'interface', request: 0x0b, value: 0, index: iface }; // SET_INTERFACE(alt 0)
        const w = await usb.controlTransferOut(setup);
        check(w.status === 'ok', `no-data control OUT status ${w.status}`);
        check(w.bytesWritten === 0, `no-data control OUT bytesWritten ${w.bytesWritten}`);
        await usb.releaseInterface(iface);
        const after = usb.configuration?.interfaces.find((i) => i.interfaceNumber === iface);
        check(after?.claimed === false, `interface ${iface} still marked claimed after releaseInterface`);
        await usb.close();
        check(!usb.opened, 'usb.opened still true after close()');
      });
    },
  },
  {
    name: 'a stalled control request resolves with status "stall"',
    async run(ctx) {
      const req = ctx.opts.stallRequest === undefined ? DEFAULT_STALL : ctx.opts.stallRequest;
      if (req === null) throw new ConformanceSkip('stall check disabled (options.stallRequest null)');
      await withClaimed(ctx, async ({ usb }) => {
        const r = await usb.controlTransferIn(req, 64);
        check(r.status === 'stall', `expected status stall, got ${JSON.stringify(summary(r))}`);
        // The control pipe recovers by itself after a stall: the next request works.
        const ok = await usb.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 0x06, value: 0x0100, index: 0 }, 18);
        check(ok.status === 'ok', `control pipe did not recover after a stall: ${ok.status}`);
      });
    },
  },
  {
    name: 'an IN transfer cut short by releaseInterface rejects with AbortError',
    async run(ctx) {
      const idle = requireIdleIn(ctx);
      await withClaimed(ctx, async (s) => {
        const ep = endpointOf(s, 'in', idle.endpointNumber);
        check(ep, `endpoint ${idle.endpointNumber} IN is not in interface ${s.iface}`);
        let settled = false;
        const p = s.usb.transferIn(idle.endpointNumber, idle.length ?? ep.packetSize);
        p.then(
          () => (settled = true),
          () => (settled = true),
        );
        await sleep(50);
        if (settled) {
          const v = await p.catch((e: Error) => e);
          throw new ConformanceSkip(`endpoint ${idle.endpointNumber} was not idle (${v instanceof Error ? v.name : JSON.stringify(summary(v))})`);
        }
        await s.usb.releaseInterface(s.iface);
        const err = await withTimeout(rejectionOf(p, 'transferIn pending at releaseInterface'), 3000, 'transferIn after releaseInterface');
        check(transferErrorKind(err) === 'aborted', `expected AbortError, got ${err.name}: ${err.message}`);
      });
    },
  },
  {
    name: 'an idle IN transfer times out with TimeoutError',
    async run(ctx) {
      const idle = requireIdleIn(ctx);
      if (!idle.timeoutMs) throw new ConformanceSkip('the backend has no IN timeout configured (options.idleIn.timeoutMs)');
      await withClaimed(ctx, async (s) => {
        const ep = endpointOf(s, 'in', idle.endpointNumber);
        check(ep, `endpoint ${idle.endpointNumber} IN is not in interface ${s.iface}`);
        const t0 = Date.now();
        const p = s.usb.transferIn(idle.endpointNumber, idle.length ?? ep.packetSize);
        const err = await withTimeout(rejectionOf(p, 'idle transferIn'), idle.timeoutMs! * 3 + 1000, 'idle transferIn');
        check(transferErrorKind(err) === 'timeout', `expected TimeoutError, got ${err.name}: ${err.message}`);
        check(Date.now() - t0 >= idle.timeoutMs! * 0.8, `timed out after ${Date.now() - t0} ms, before the ${idle.timeoutMs} ms timeout`);
        // An idle endpoint is not a fault: the next transfer can be submitted.
        const again = s.usb.transferIn(idle.endpointNumber, idle.length ?? ep.packetSize);
        const err2 = await withTimeout(rejectionOf(again, 'second idle transferIn'), idle.timeoutMs! * 3 + 1000, 'second idle transferIn');
        check(transferErrorKind(err2) === 'timeout', `resubmitted transfer: expected TimeoutError, got ${err2.name}: ${err2.message}`);
      });
    },
  },
  {
    name: 'transfers on an unplugged device reject with NotFoundError',
    async run(ctx) {
      const hot = requireHotplug(ctx);
      const ms = hot.timeoutMs ?? 5000;
      const rec = new EventRecorder();
      const stop = await ctx.backend.watch(rec.listener);
      try {
        const hd = await ctx.device();
        await withClaimed(ctx, async (s) => {
          const pending = ctx.opts.idleIn
            ? rejectionOf(s.usb.transferIn(ctx.opts.idleIn.endpointNumber, ctx.opts.idleIn.length ?? 64), 'transferIn pending at unplug')
            : undefined;
          await sleep(20);
          await hot.unplug();
          if (pending) {
            const err = await withTimeout(pending, ms, 'pending transferIn at unplug');
            check(transferErrorKind(err) === 'disconnected', `pending transfer: expected NotFoundError, got ${err.name}: ${err.message}`);
          }
          await rec.next((e) => e.type === 'disconnect' && e.device === hd, ms, `disconnect of ${hd.key}`);
          const err = await rejectionOf(
            s.usb.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 0x06, value: 0x0100, index: 0 }, 18),
            'control transfer after unplug',
          );
          check(transferErrorKind(err) === 'disconnected', `after unplug: expected NotFoundError, got ${err.name}: ${err.message}`);
        });
        await hot.plug();
        const back = await rec.next((e) => e.type === 'connect', ms, 'connect after plug');
        ctx.setDevice(back.device);
      } finally {
        stop();
      }
    },
  },
];

// -- running -------------------------------------------------------------------------------------

/** Why a backend cannot run here, or undefined. Creating/enumerating is how a backend says so. */
async function unavailableReason(factory: BackendFactory): Promise<{ reason?: string; backend?: HostBackend }> {
  let backend: HostBackend | undefined;
  try {
    backend = await factory();
    await backend.getDevices();
    return { backend };
  } catch (err) {
    if (err instanceof NoUsbSubsystemError || (err as Error)?.name === 'NoUsbSubsystemError') {
      await backend?.close().catch(() => undefined);
      const detail = (err as NoUsbSubsystemError).detail ?? (err as Error).message;
      return { reason: `no USB subsystem (${detail})` };
    }
    await backend?.close().catch(() => undefined);
    throw err;
  }
}

function makeContext(backend: HostBackend, opts: ConformanceOptions): ConformanceContext {
  let picked: HostDevice | undefined;
  return {
    backend,
    opts,
    async device() {
      if (!opts.pickDevice) throw new ConformanceSkip('no device picked for device checks (options.pickDevice)');
      if (picked) return picked;
      picked = opts.pickDevice(await backend.getDevices());
      if (!picked) throw new ConformanceSkip('the device to exercise is not attached');
      return picked;
    },
    setDevice(d) {
      picked = d;
    },
  };
}

export interface ConformanceResult {
  check: string;
  outcome: 'passed' | 'failed' | 'skipped';
  detail?: string;
}

/** Runs every check without a test framework (e.g. from a CLI). */
export async function runBackendConformance(
  label: string,
  factory: BackendFactory,
  opts: ConformanceOptions = {},
): Promise<ConformanceResult[]> {
  const out = opts.log ?? ((line: string) => console.log(line));
  const { reason, backend } = await unavailableReason(factory);
  if (!backend) {
    out(`[${label}] skipped: ${reason}`);
    return CONFORMANCE_CHECKS.map((c) => ({ check: c.name, outcome: 'skipped', detail: reason }));
  }
  const ctx = makeContext(backend, opts);
  const results: ConformanceResult[] = [];
  try {
    for (const c of CONFORMANCE_CHECKS) {
      try {
        await c.run(ctx);
        results.push({ check: c.name, outcome: 'passed' });
      } catch (err) {
        if (err instanceof ConformanceSkip) {
          out(`[${label}] skipped "${c.name}": ${err.message}`);
          results.push({ check: c.name, outcome: 'skipped', detail: err.message });
        } else {
          results.push({ check: c.name, outcome: 'failed', detail: (err as Error).message });
        }
      }
    }
  } finally {
    await backend.close();
  }
  return results;
}

/** Registers the checks as a mocha suite (describe/it from mocha's globals). */
export function describeBackendConformance(
  label: string,
  factory: BackendFactory,
  opts: ConformanceOptions = {},
): void {
  const out = opts.log ?? ((line: string) => console.log(line));
  describe(`host backend conformance: ${label}`, function () {
    let ctx: ConformanceContext | undefined;
    let backend: HostBackend | undefined;

    before(async function () {
      const r = await unavailableReason(factory);
      if (!r.backend) {
        out(`[${label}] skipped: ${r.reason}`);
        this.skip();
      }
      backend = r.backend;
      ctx = makeContext(r.backend as HostBackend, opts);
    });

    after(async () => {
      await backend?.close();
    });

    for (const c of CONFORMANCE_CHECKS) {
      it(c.name, async function () {
        try {
          await c.run(ctx as ConformanceContext);
        } catch (err) {
          if (err instanceof ConformanceSkip) {
            out(`[${label}] skipped "${c.name}": ${err.message}`);
            this.skip();
          }
          throw err;
        }
      });
    }
  });
}
