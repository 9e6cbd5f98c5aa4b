// The generic usb-serial port layer (Linux: drivers/usb/serial/generic.c; usb-serial-for-android:
// CommonUsbSerialPort): turns a chip ops table (chip-ops.ts) into a serial driver. It owns, for
// every chip alike: attach bookkeeping, the per-port state, open with close-on-failure, the read
// side (reader.ts), the bulk-OUT loop with progress, cancelling writes, drain, DTR/RTS on open and
// close (HUPCL), and refusing what the chip's capabilities leave out. It also gives each chip
// family the registration tail Linux's module_usb_serial_driver() gives a module: the default
// driver, its driver set, register(usbBus), and the adapter accessor.
import { childLog } from '../../log.ts';
import { transferError, transferErrorKind } from '../../usb/host.ts';
import type { UsbBus } from '../../usb/bus.ts';
import type { SerialDriverSpec } from '../driver.ts';
import type { UsbSerialDriverSet } from '../driver-set.ts';
import type { PortCapabilities, PortCloseOptions, PortOperations, PortSink } from '../port-ops.ts';
import { PortDisconnectedError, type UsbSerial, type UsbSerialPort } from '../port.ts';
import { registerUsbSerialDrivers, type UsbSerialRegistration } from '../register.ts';
import { UnsupportedFeatureError, type AppliedSettings, type OutputSignals, type SerialSettings } from '../settings.ts';
import type { ChipPort, UsbSerialChipOps } from './chip-ops.ts';
import { cancelTransfers } from './cancel.ts';
import { UsbSerialControl } from './control.ts';
import { PortReader } from './reader.ts';

const log = childLog('serial.generic');

/** Default bulk IN transfer: 16 packets. */
const READ_PACKETS = 16;
/** Default bulk OUT transfer size. */
const WRITE_TRANSFER = 16384;

const FLOW_NAMES: Record<SerialSettings['flowControl'], string> = {
  none: 'no',
  'rts-cts': 'RTS/CTS',
  'dtr-dsr': 'DTR/DSR',
  'xon-xoff': 'automatic XON/XOFF',
};

/** A bulk-OUT transfer the chip refused (stalled) or that moved no bytes. */
export class UsbSerialWriteError extends Error {
  override readonly name = 'UsbSerialWriteError';
  constructor(
    readonly port: string,
    readonly status: USBTransferStatus | 'no bytes taken',
    /** Bytes of the write the chip took before it failed. */
    readonly bytesWritten: number,
  ) {
    super(`${port}: bulk OUT ${status === 'no bytes taken' ? 'took no bytes' : `answered ${status}`} after ${bytesWritten} bytes`);
  }
}

/**
 * A transfer failed with an error that does not say why (a backend may report a device that is
 * going away as a missing endpoint before its disconnect event arrives): ask the device for its
 * status, as usb-serial-for-android tells a dead device from a failed transfer. No answer means
 * it is gone, and the error becomes a NotFoundError the port turns into PortDisconnectedError.
 */
async function goneOr(usb: USBDevice, err: unknown): Promise<unknown> {
  if (transferErrorKind(err) !== 'other') return err;
  let answered: boolean;
  try {
    const r = await usb.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 0x00, value: 0, index: 0 }, 2);
    answered = r.status === 'ok';
  } catch {
    answered = false;
  }
  if (answered) return err;
  const gone = transferError('disconnected', `${(err as Error)?.message ?? String(err)} (the device no longer answers GET_STATUS)`);
  (gone as Error & { cause?: unknown }).cause = err;
  return gone;
}

/** What the generic layer keeps per bound interface (UsbSerial.driverData). */
interface Bound<A extends object, S extends object> {
  /** The family that bound it: every driver made by one defineUsbSerialDriver shares it. */
  readonly family: object;
  /** The ops of the driver instance that bound it. */
  readonly ops: UsbSerialChipOps<A, S>;
  readonly adapter: A;
  readonly control: UsbSerialControl;
}

interface PortRuntime<A extends object, S extends object> {
  readonly chip: ChipPort<A, S>;
  sink: PortSink | null;
  reader: PortReader | null;
  /** Bulk-OUT transfers in flight. */
  writing: number;
  /** DTR/RTS raised by open: close with HUPCL drops them. */
  raised: boolean;
  /** Bytes the chip took since the last drain, and when it took the last of them. */
  unsent: number;
  lastTakenAt: number;
  /** A cancelWrites in progress: a second caller joins it (two releases of the interface would race the restarted reader). */
  cancelling: Promise<void> | null;
}

/**
 * A chip family on the generic layer: what a chip folder in drivers/ exports, each under its own
 * name (ftdiDriver, ftdiDriverSet, registerFtdi, ftdiAdapterOf, ...).
 */
export interface UsbSerialChipDriver<A extends object, S extends object, O extends object> {
  /** The serial driver built with default options. */
  readonly driver: SerialDriverSpec;
  /**
   * The driver set for the default driver list (Linux's module_usb_serial_driver): usb driver
   * name and ID table are the default driver's.
   */
  readonly driverSet: UsbSerialDriverSet;
  /** Another serial driver of the family with its own options (each keeps them). */
  create(options?: O): SerialDriverSpec;
  /** Registers the driver set on a usb bus (default: the default USB subsystem's). */
  register(usbBus?: UsbBus): Promise<UsbSerialRegistration>;
  /**
   * The adapter record of a port or interface any driver of the family drives, with the port's
   * current settings (an interface: its first port's); undefined for anything else.
   */
  adapterOf(target: UsbSerial | UsbSerialPort): (A & { readonly settings: AppliedSettings | null }) | undefined;
  /** A bound port as the chip ops see it (for the chip's own extra controls), or undefined. */
  chipOf(port: UsbSerialPort): ChipPort<A, S> | undefined;
}

/**
 * Defines a chip family from a function that builds its ops table for a set of options (a chip
 * without options ignores them). The default driver is built at once with empty options.
 */
export function defineUsbSerialDriver<A extends object, S extends object, O extends object = Record<string, never>>(
  makeOps: (options: O) => UsbSerialChipOps<A, S>,
): UsbSerialChipDriver<A, S, O> {
  const family = {};
  const runtimes = new WeakMap<UsbSerialPort, PortRuntime<A, S>>();

  const boundOf = (serial: UsbSerial): Bound<A, S> | undefined => {
    const d = serial.driverData as Bound<A, S> | undefined;
    return d && typeof d === 'object' && d.family === family ? d : undefined;
  };

  const runtimeOf = (port: UsbSerialPort): PortRuntime<A, S> => {
    let rt = runtimes.get(port);
    if (!rt) {
      const bound = boundOf(port.serial);
      if (!bound) throw new PortDisconnectedError(port.name);
      rt = {
        chip: { port, adapter: bound.adapter, state: bound.ops.newPortState(bound.adapter), control: bound.control },
        sink: null,
        reader: null,
        writing: 0,
        raised: false,
        unsent: 0,
        lastTakenAt: 0,
        cancelling: null,
      };
      runtimes.set(port, rt);
    }
    return rt;
  };

  /** One serial driver over the chip ops `ops`. */
  function build(ops: UsbSerialChipOps<A, S>): SerialDriverSpec {
    const capabilities = (port: UsbSerialPort): PortCapabilities => ops.capabilities(runtimeOf(port).chip.adapter);

    const who = (port: UsbSerialPort): string => {
      const bound = boundOf(port.serial);
      return (bound && ops.describe?.(bound.adapter)) ?? `${ops.name} on ${port.name}`;
    };

    function refuseUnsupported(port: UsbSerialPort, s: SerialSettings): void {
      const caps = capabilities(port);
      if (!caps.flowControl.includes(s.flowControl)) {
        throw new UnsupportedFeatureError(
          'flowControl',
          `${who(port)} has no ${FLOW_NAMES[s.flowControl]} flow control; use ${caps.flowControl.map((f) => `'${f}'`).join(', ')}`,
        );
      }
      if (!caps.dataBits.includes(s.dataBits)) {
        throw new UnsupportedFeatureError('dataBits', `${who(port)} does ${caps.dataBits.join(' or ')} data bits, not ${s.dataBits}`);
      }
    }

    function startReading(rt: PortRuntime<A, S>): void {
      const { chip } = rt;
      const eps = ops.endpoints(chip.adapter);
      const reader = new PortReader({
        intf: chip.port.serial.intf,
        ...(eps.dataInterface ? { dataIntf: eps.dataInterface } : {}),
        bulkIn: eps.bulkIn,
        interruptIn: eps.interruptIn,
        transferSize: ops.readTransferSize?.(chip.adapter) ?? READ_PACKETS * eps.bulkIn.packetSize,
        settleMs: ops.readSettleMs?.(chip.adapter) ?? 0,
        onBulk: (data) => {
          if (rt.reader === reader && rt.sink) ops.parseBulkIn(chip, data, rt.sink);
        },
        onInterrupt: ops.parseInterrupt
          ? (data) => {
              if (rt.reader === reader && rt.sink) ops.parseInterrupt!(chip, data, rt.sink);
            }
          : undefined,
        onFailed: (error) => {
          if (rt.reader !== reader) return;
          rt.reader = null;
          rt.sink?.failed(error);
        },
        keepClaimed: () => !chip.port.gone,
      });
      rt.reader = reader;
      reader.start();
    }

    async function stopReading(rt: PortRuntime<A, S>): Promise<void> {
      const reader = rt.reader;
      rt.reader = null;
      await reader?.stop();
    }

    const port: PortOperations = {
      async open(p, settings, sink) {
        const rt = runtimeOf(p);
        refuseUnsupported(p, settings);
        rt.sink = sink;
        const applied = await ops.open(rt.chip, settings);
        startReading(rt);
        // The tty layer raises DTR and RTS once the port is open (Linux: tty_port dtr_rts(1)).
        await ops.setLines(rt.chip, { dtr: true, rts: true });
        rt.raised = true;
        return applied;
      },

      async close(p, options: PortCloseOptions = { hupcl: true }) {
        const rt = runtimes.get(p);
        if (!rt) return;
        await stopReading(rt);
        rt.sink = null;
        // Nothing to undo after an open refused before it raised the lines (a bad setting).
        const raised = rt.raised;
        rt.raised = false;
        if (p.serial.gone || !boundOf(p.serial)) return;
        try {
          await ops.close(rt.chip, { hupcl: options.hupcl && raised });
        } catch (err) {
          if (!(err instanceof PortDisconnectedError)) throw err;
        }
      },

      async setSettings(p, settings) {
        refuseUnsupported(p, settings);
        return ops.setSettings(runtimeOf(p).chip, settings);
      },

      async setSignals(p, signals: OutputSignals) {
        const rt = runtimeOf(p);
        if (signals.brk !== undefined && (!capabilities(p).break || !ops.setBreak)) {
          throw new UnsupportedFeatureError('break', `${who(p)} cannot send a break`);
        }
        if (signals.dtr !== undefined || signals.rts !== undefined) await ops.setLines(rt.chip, { dtr: signals.dtr, rts: signals.rts });
        if (signals.brk !== undefined) await ops.setBreak!(rt.chip, signals.brk);
      },

      getModemLines: (p) => ops.getModemLines(runtimeOf(p).chip),

      purge: (p, what) => ops.purge(runtimeOf(p).chip, what),

      async write(p, data, progress) {
        const rt = runtimeOf(p);
        const { chip } = rt;
        const ep = ops.endpoints(chip.adapter).bulkOut;
        const usb = p.serial.intf.usb;
        const bytes = ops.frameOut ? ops.frameOut(chip, data) : data;
        const framed = bytes.length !== data.length;
        const size = ops.writeTransferSize ?? WRITE_TRANSFER;
        let at = 0;
        while (at < bytes.length) {
          const chunk = bytes.subarray(at, at + size);
          rt.writing++;
          let r: USBOutTransferResult;
          try {
            r = await usb.transferOut(ep.number, chunk as Uint8Array<ArrayBuffer>);
          } catch (err) {
            throw await goneOr(usb, err);
          } finally {
            rt.writing--;
          }
          if (r.status === 'stall') {
            await usb.clearHalt('out', ep.number).catch(() => undefined);
            throw new UsbSerialWriteError(p.name, 'stall', at + r.bytesWritten);
          }
          if (r.status !== 'ok') throw new UsbSerialWriteError(p.name, r.status, at + r.bytesWritten);
          if (r.bytesWritten === 0 && chunk.length > 0) throw new UsbSerialWriteError(p.name, 'no bytes taken', at);
          at += r.bytesWritten;
          rt.unsent += r.bytesWritten;
          rt.lastTakenAt = Date.now();
          // Framed bytes (headers) are not the caller's: report payload progress at the end.
          if (!framed) progress?.(r.bytesWritten);
        }
        if (framed) progress?.(data.length);
      },

      async cancelWrites(p) {
        const rt = runtimeOf(p);
        rt.cancelling ??= (async () => {
          if (rt.writing > 0) {
            // Reading stops first (its transfers end or are cancelled with the OUT one), then resumes.
            const reading = rt.reader !== null;
            const paused = rt.reader?.paused ?? false;
            await stopReading(rt);
            const data = ops.endpoints(rt.chip.adapter).dataInterface;
            if (rt.writing > 0) await cancelTransfers(data ?? p.serial.intf, () => !p.gone);
            if (reading && rt.sink && !p.gone) {
              startReading(rt);
              if (paused) rt.reader?.pause();
            }
          }
          await ops.purge(rt.chip, { rx: false, tx: true });
        })().finally(() => {
          rt.cancelling = null;
        });
        await rt.cancelling;
      },

      async waitUntilSent(p) {
        const rt = runtimeOf(p);
        const caps = capabilities(p);
        if (caps.txEmptyStatus && ops.txEmpty) {
          // usb_serial_generic_wait_until_sent: poll tx_empty about once per character time.
          const bps = p.settings?.actualBaudRate || 9600;
          const period = Math.max(1, Math.ceil(10_000 / bps));
          const limit = Date.now() + 1000 + Math.ceil(((caps.txFifoSize + 64) * 10 * 1000) / bps) * 2;
          while (!(await ops.txEmpty(rt.chip))) {
            if (p.gone) throw new PortDisconnectedError(p.name);
            if (Date.now() > limit) {
              log.warn({ port: p.name }, 'transmitter not empty within its bound; drain gives up waiting');
              return;
            }
            await sleep(period);
          }
          return;
        }
        // No transmitter-empty status: the time what the FIFO can still hold of the bytes taken since
        // the last drain needs at the line rate (10 bits a byte), counted from when it took them.
        const bps = p.settings?.actualBaudRate || 9600;
        const pending = Math.min(caps.txFifoSize, rt.unsent);
        rt.unsent = 0;
        const left = Math.ceil((pending * 10 * 1000) / bps) - (Date.now() - rt.lastTakenAt);
        if (left > 0) await sleep(left);
      },

      capabilities,

      pauseReading(p) {
        runtimes.get(p)?.reader?.pause();
      },

      resumeReading(p) {
        runtimes.get(p)?.reader?.resume();
      },
    };

    const spec: SerialDriverSpec = {
      name: ops.name,
      description: ops.description,
      idTable: ops.idTable,
      numPorts: 1,
      probe: ops.probe ? (serial, id) => ops.probe!(serial.intf, id) : undefined,
      async attach(serial) {
        const control = new UsbSerialControl(serial.intf.usb);
        const adapter = await ops.attach({ intf: serial.intf, id: serial.id, control });
        const bound: Bound<A, S> = { family, ops, adapter, control };
        serial.driverData = bound;
        return 1; // one port per interface; each interface of a multi-channel chip binds alone
      },
      portProbe: ops.portProbe ? (p) => ops.portProbe!(runtimeOf(p).chip) : undefined,
      async portRemove(p) {
        const rt = runtimes.get(p);
        if (rt) await stopReading(rt);
      },
      async disconnect(serial) {
        // The ports were marked gone before this; stop their reads (unbind: the device is still there).
        for (const p of serial.ports) {
          const rt = runtimes.get(p);
          if (!rt) continue;
          rt.sink = null;
          await stopReading(rt);
        }
      },
      release(serial) {
        const bound = boundOf(serial);
        serial.driverData = undefined;
        // A release that returns a promise (giving back a claimed interface) is waited for.
        if (bound) return ops.release?.(bound.adapter);
      },
      port,
    };
    return spec;
  }

  const driver = build(makeOps({} as O));
  return {
    driver,
    driverSet: Object.freeze({ name: driver.name, specs: Object.freeze([driver]), ids: driver.idTable }),
    create: (options) => build(makeOps(options ?? ({} as O))),
    register: (usbBus) => registerUsbSerialDrivers([driver], driver.name, driver.idTable, usbBus ? { usbBus } : {}),
    adapterOf(target) {
      const serial = 'serial' in target ? target.serial : target;
      const bound = boundOf(serial);
      if (!bound) return undefined;
      const port = 'serial' in target ? target : serial.ports[0];
      return { ...bound.adapter, settings: port?.settings ?? null };
    },
    chipOf: (p) => (boundOf(p.serial) ? runtimeOf(p).chip : undefined),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
