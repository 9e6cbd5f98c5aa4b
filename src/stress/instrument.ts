// Watching the chip drivers from outside: each serial driver spec is wrapped so that every call
// into it is checked as it happens (none after its driver's unregistration resolved; attach /
// release and portProbe / portRemove in pairs). The wrapped spec behaves exactly as the original.
import type { SerialDriver, SerialDriverSpec, UsbSerial, UsbSerialPort } from '../serial/index.ts';
import type { PortOperations } from '../serial/port-ops.ts';
import type { Monitor } from './monitor.ts';

interface AdapterTrack {
  readonly serial: UsbSerial;
  readonly driver: string;
  attached: boolean;
  released: boolean;
  disconnected: boolean;
}

interface PortTrack {
  readonly port: UsbSerialPort;
  readonly driver: string;
  removed: boolean;
}

const SPEC_METHODS = ['probe', 'attach', 'portProbe', 'portRemove', 'disconnect', 'release'] as const;
const PORT_METHODS = [
  'open',
  'close',
  'setSettings',
  'setSignals',
  'getModemLines',
  'purge',
  'write',
  'pauseReading',
  'resumeReading',
] as const;

export class DriverWatch {
  /** Drivers whose unregistration (or failed registration) has resolved. */
  private readonly gone = new WeakSet<object>();
  /** Recently gone drivers, re-checked for leaks at later checks (bounded). */
  readonly recentlyGone: { driver: SerialDriver | import('../usb/driver.ts').UsbDriver; event: number }[] = [];
  private readonly adapters = new Map<UsbSerial, AdapterTrack>();
  private readonly ports = new Map<UsbSerialPort, PortTrack>();
  /** Calls per method name, for the report. */
  readonly calls: Record<string, number> = {};

  constructor(private readonly monitor: Monitor) {}

  markGone(driver: SerialDriver | import('../usb/driver.ts').UsbDriver): void {
    if (this.gone.has(driver)) return;
    this.gone.add(driver);
    this.recentlyGone.push({ driver, event: this.monitor.event });
    if (this.recentlyGone.length > 64) this.recentlyGone.shift();
  }

  isGone(driver: object): boolean {
    return this.gone.has(driver);
  }

  /** A spec that behaves as `spec` and reports every call. */
  wrap(spec: SerialDriverSpec): SerialDriverSpec {
    const w = Object.create(spec) as { -readonly [K in keyof SerialDriverSpec]: SerialDriverSpec[K] };
    const orig = spec as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>;
    const call = (name: string, args: unknown[]): unknown => orig[name]?.apply(spec, args);

    w.probe = (serial, id) => {
      this.enter('probe', serial.type, serial.intf.name);
      return call('probe', [serial, id]) as void | Promise<void>;
    };
    w.attach = async (serial) => {
      this.enter('attach', serial.type, serial.intf.name);
      const prior = this.adapters.get(serial);
      if (prior) this.pairing(`attach called twice for adapter ${serial.intf.name} (${serial.type.name})`);
      const result = (await call('attach', [serial])) as void | number;
      this.adapters.set(serial, { serial, driver: serial.type.name, attached: true, released: false, disconnected: false });
      return result;
    };
    w.disconnect = (serial) => {
      this.enter('disconnect', serial.type, serial.intf.name);
      const t = this.adapters.get(serial);
      if (!t) this.pairing(`disconnect of adapter ${serial.intf.name} (${serial.type.name}) that was never attached`);
      else if (t.disconnected) this.pairing(`disconnect called twice for adapter ${serial.intf.name} (${serial.type.name})`);
      else t.disconnected = true;
      return call('disconnect', [serial]) as void | Promise<void>;
    };
    w.release = (serial) => {
      this.enter('release', serial.type, serial.intf.name);
      const t = this.adapters.get(serial);
      if (!t) this.pairing(`release of adapter ${serial.intf.name} (${serial.type.name}) that was never attached (or released twice)`);
      else {
        t.released = true;
        this.adapters.delete(serial);
      }
      return call('release', [serial]) as void | Promise<void>;
    };
    w.portProbe = async (port) => {
      this.enter('portProbe', port.serial.type, port.name);
      if (this.ports.has(port)) this.pairing(`portProbe called twice for ${port.name} (${port.serial.type.name})`);
      // A probe that throws leaves the port unbound: only a successful one needs its remove.
      await call('portProbe', [port]);
      this.ports.set(port, { port, driver: port.serial.type.name, removed: false });
    };
    w.portRemove = (port) => {
      this.enter('portRemove', port.serial.type, port.name);
      if (!this.ports.delete(port)) this.pairing(`portRemove of ${port.name} (${port.serial.type.name}) without its portProbe (or twice)`);
      return call('portRemove', [port]) as void | Promise<void>;
    };
    if (spec.port) w.port = this.wrapPort(spec.port);
    for (const m of SPEC_METHODS) if (!(m in w)) throw new TypeError(`wrapping lost ${m}`);
    return w;
  }

  /**
   * Every probe has its remove once the thing it probed is unbound: an attached adapter whose
   * interface is no longer bound to its usb driver, or a probed port no longer bound, was never
   * released. Cheap; run at every step.
   */
  checkPairing(): void {
    this.monitor.checked('probe-remove-pairing', this.adapters.size + this.ports.size);
    for (const t of this.adapters.values()) {
      const s = t.serial;
      if (s.intf.driver !== s.type.usbDriver || s.intf.state === 'dead') {
        this.monitor.violate(
          'probe-remove-pairing',
          `adapter ${s.intf.name} was attached by ${t.driver} but never released, though its interface is ${s.intf.state === 'dead' ? 'gone' : 'unbound'}`,
          { adapter: s.intf.name, driver: t.driver },
        );
        this.adapters.delete(s);
      }
    }
    for (const t of this.ports.values()) {
      if (t.port.driver === null || t.port.state === 'dead') {
        this.monitor.violate('probe-remove-pairing', `${t.port.name} was probed by ${t.driver} but portRemove never ran, though it is unbound`, {
          port: t.port.name,
          driver: t.driver,
        });
        this.ports.delete(t.port);
      }
    }
  }

  private wrapPort(ops: PortOperations): PortOperations {
    const w = Object.create(ops) as Record<string, unknown>;
    const orig = ops as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>;
    for (const m of PORT_METHODS) {
      const fn = orig[m];
      if (typeof fn !== 'function') continue;
      w[m] = (port: UsbSerialPort, ...rest: unknown[]) => {
        this.enter(`port.${m}`, port.serial.type, port.name);
        return fn.apply(ops, [port, ...rest]);
      };
    }
    return w as unknown as PortOperations;
  }

  private enter(method: string, driver: SerialDriver, on: string): void {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    this.monitor.checked('method-after-unregistration');
    if (this.gone.has(driver) || (driver.usbDriver && this.gone.has(driver.usbDriver))) {
      this.monitor.violate(
        'method-after-unregistration',
        `${driver.name}.${method}(${on}) ran after the deregistration of ${driver.name} had resolved`,
        { driver: driver.name, method, on },
        `method-after-unregistration|${driver.name}.${method}`,
      );
    }
  }

  private pairing(message: string): void {
    this.monitor.checked('probe-remove-pairing');
    this.monitor.violate('probe-remove-pairing', message);
  }
}
