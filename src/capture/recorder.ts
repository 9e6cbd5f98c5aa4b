// The recorder: wraps a host backend (or one device) so that every transfer a driver makes
// becomes the usbmon events Linux would show for it, an 'S' at submission and a 'C' at
// completion (usbmon.rst; mon_bin_event in drivers/usb/mon/mon_bin.c). It sits on the WebUSB
// boundary every backend implements (src/usb/host.ts), so it records real backends and the mock
// lab alike. Each device starts with a GET_DESCRIPTOR(device) and GET_DESCRIPTOR(configuration)
// exchange made up from its descriptors, because Wireshark picks class and vendor dissectors
// (FTDI by VID:PID and bcdDevice) from the answers it has seen in the capture.
import { childLog } from '../log.ts';
import { transferErrorKind, type HostBackend, type HostDevice, type HostEvent } from '../usb/host.ts';
import { configurationDescriptorBytes, deviceDescriptorBytes } from './descriptors.ts';
import { URB_DIR_IN, URB_STATUS, type UsbmonEvent, type UsbmonTransferType, type UsbSetupPacket } from './usbmon.ts';

const log = childLog('capture');

/**
 * Receives every event, in order; the device key says whose it is, `enumeration` whether it is
 * part of the GET_DESCRIPTOR exchange made up from the device's descriptors.
 */
export type CaptureSink = (event: UsbmonEvent, deviceKey: string, enumeration: boolean) => void;

export interface RecorderOptions {
  /** Microseconds since the epoch (default: the wall clock at start plus a monotonic offset). */
  clock?: () => bigint;
}

/** The bus address a device shows in the capture. */
export interface CaptureAddress {
  bus: number;
  device: number;
}

const REQUEST_TYPE = { standard: 0, class: 1, vendor: 2 } as const;
const RECIPIENT = { device: 0, interface: 1, endpoint: 2, other: 3 } as const;

/**
 * The wall clock at start plus performance.now's progress since, in microseconds, never going
 * backwards. A Number holds microseconds since the epoch exactly until the year 2255 (2^53), and
 * costs no BigInt per event (the recorder sits on every transfer of a stress run).
 */
function monotonicClockUs(): () => number {
  const base = Date.now() * 1000;
  const start = performance.now();
  let last = base;
  return () => {
    const t = base + Math.round((performance.now() - start) * 1000);
    if (t > last) last = t;
    return last;
  };
}

/**
 * URB status for a WebUSB outcome, as Linux reports the same event: a stall -EPIPE, babble
 * -EOVERFLOW, a device gone -ESHUTDOWN (the HCD flushes its endpoints), a transfer cut short by a
 * timeout or by releasing the interface -ENOENT (usb_kill_urb), anything else -EPROTO.
 */
export function urbStatus(outcome: { status: USBTransferStatus } | { error: unknown }): number {
  if ('status' in outcome) return outcome.status === 'ok' ? URB_STATUS.ok : outcome.status === 'stall' ? URB_STATUS.stall : URB_STATUS.babble;
  const kind = transferErrorKind(outcome.error);
  if (kind === 'disconnected') return URB_STATUS.shutdown;
  if (kind === 'timeout' || kind === 'aborted') return URB_STATUS.killed;
  return URB_STATUS.protocol;
}

const EMPTY = new Uint8Array(0);

/**
 * One usbmon event, built field by field (every event one shape, no spreads: the recorder sits on
 * every transfer); the time is stamped when it is emitted. Absent optional fields stay absent.
 */
function urbEvent(
  id: bigint,
  type: 'S' | 'C',
  transfer: UsbmonTransferType,
  endpoint: number,
  addr: CaptureAddress,
  status: number,
  length: number,
  setup: UsbSetupPacket | undefined,
  data: Uint8Array | undefined,
  dataFlag: string | undefined,
): UsbmonEvent {
  const e: UsbmonEvent = {
    id,
    type,
    transfer,
    endpoint,
    device: addr.device,
    bus: addr.bus,
    tsSec: 0,
    tsUsec: 0,
    status,
    length,
    interval: 0,
    startFrame: 0,
    xferFlags: endpoint & 0x80 ? URB_DIR_IN : 0,
  };
  if (setup) e.setup = setup;
  if (data) e.data = data;
  if (dataFlag !== undefined) e.dataFlag = dataFlag;
  return e;
}

export class UsbRecorder {
  /** Microseconds since the epoch. */
  private readonly clockUs: () => number;
  private nextId = 1n;
  private readonly wrapped = new WeakMap<HostDevice, HostDevice>();
  private readonly originals = new WeakMap<HostDevice, HostDevice>();
  private readonly addresses = new Map<string, CaptureAddress>();
  private sinkFailed = false;

  constructor(
    private readonly sink: CaptureSink,
    options: RecorderOptions = {},
  ) {
    const clock = options.clock;
    this.clockUs = clock ? () => Number(clock()) : monotonicClockUs();
  }

  /** Where a device shows in the capture, once it has been wrapped. */
  addressOf(deviceKey: string): CaptureAddress | undefined {
    return this.addresses.get(deviceKey);
  }

  /** The backend's own device behind a wrapped one (itself if it is not one of ours). */
  original(dev: HostDevice): HostDevice {
    return this.originals.get(dev) ?? dev;
  }

  /** A backend whose devices record every transfer; the same wrapped object for one attachment. */
  wrapBackend(backend: HostBackend): HostBackend {
    return {
      name: backend.name,
      getDevices: async () => (await backend.getDevices()).map((d) => this.wrapDevice(d)),
      watch: (listener: (e: HostEvent) => void) => backend.watch((e) => listener({ type: e.type, device: this.wrapDevice(e.device) })),
      close: () => backend.close(),
    };
  }

  /** The device with a recording USBDevice; its descriptors are recorded the first time. */
  wrapDevice(dev: HostDevice): HostDevice {
    const known = this.wrapped.get(dev);
    if (known) return known;
    const addr = this.assignAddress(dev);
    const usb = this.recordingUsb(dev.usb, dev.key, addr);
    const w: HostDevice = {
      key: dev.key,
      usb,
      maxTransfersInFlight: dev.maxTransfersInFlight,
      ...(dev.location ? { location: dev.location } : {}),
      ...(dev.kernelDriver ? { kernelDriver: dev.kernelDriver } : {}),
      ...(dev.deviceDescriptor ? { deviceDescriptor: dev.deviceDescriptor } : {}),
    };
    this.wrapped.set(dev, w);
    this.originals.set(w, dev);
    this.enumeration(dev, addr);
    return w;
  }

  private assignAddress(dev: HostDevice): CaptureAddress {
    const bus = dev.location?.busNumber ?? 1;
    const taken = new Set([...this.addresses.values()].filter((a) => a.bus === bus).map((a) => a.device));
    let device = dev.location?.deviceAddress;
    if (device === undefined || device < 1 || device > 127) {
      // Linux numbers from 1 (the root hub) upwards: the first free address after it.
      device = 2;
      while (taken.has(device) && device < 127) device++;
    }
    const a = { bus, device };
    this.addresses.set(dev.key, a);
    return a;
  }

  /** Stamps an event with the time and hands it to the sink. */
  private emit(event: UsbmonEvent, key: string, enumeration = false): void {
    const us = this.clockUs();
    const sec = Math.floor(us / 1_000_000);
    event.tsSec = sec;
    event.tsUsec = us - sec * 1_000_000;
    try {
      this.sink(event, key, enumeration);
    } catch (err) {
      // A full disk must not fail the transfer being recorded: say so once and carry on.
      if (!this.sinkFailed) log.error({ err, device: key }, 'capture sink failed; later events may be missing');
      this.sinkFailed = true;
    }
  }

  /** The GET_DESCRIPTOR(device) and GET_DESCRIPTOR(configuration) exchanges of enumeration. */
  private enumeration(dev: HostDevice, addr: CaptureAddress): void {
    const dd = deviceDescriptorBytes(dev);
    this.syntheticControlIn(dev.key, addr, { bmRequestType: 0x80, bRequest: 6, wValue: 0x0100, wIndex: 0, wLength: 18 }, dd);
    dev.usb.configurations.forEach((c, i) => {
      const cd = configurationDescriptorBytes(c);
      this.syntheticControlIn(dev.key, addr, { bmRequestType: 0x80, bRequest: 6, wValue: 0x0200 | i, wIndex: 0, wLength: cd.length }, cd);
    });
  }

  private syntheticControlIn(key: string, addr: CaptureAddress, setup: UsbSetupPacket, answer: Uint8Array): void {
    const id = this.nextId++;
    this.emit(urbEvent(id, 'S', 'control', 0x80, addr, URB_STATUS.submitted, setup.wLength, setup, undefined, '<'), key, true);
    this.emit(urbEvent(id, 'C', 'control', 0x80, addr, 0, answer.length, undefined, answer, undefined), key, true);
  }

  /**
   * Records one transfer around `run`: 'S' now, 'C' when it settles (also when it rejects). The
   * caller gets `run`'s own promise back, so recording adds no promise turns to the driver's
   * timing (a seeded stress run replays the same with and without a recorder).
   */
  private transfer<R>(
    key: string,
    addr: CaptureAddress,
    t: { transfer: UsbmonTransferType; endpoint: number; setup?: UsbSetupPacket; length: number; out?: Uint8Array },
    run: () => Promise<R>,
    result: (r: R) => { status: USBTransferStatus; length: number; data?: Uint8Array },
  ): Promise<R> {
    const id = this.nextId++;
    const dirIn = (t.endpoint & 0x80) !== 0;
    this.emit(
      urbEvent(id, 'S', t.transfer, t.endpoint, addr, URB_STATUS.submitted, t.length, t.setup, dirIn ? undefined : (t.out ?? EMPTY), dirIn ? '<' : undefined),
      key,
    );
    const completed = (status: number, length: number, data: Uint8Array | undefined) =>
      this.emit(urbEvent(id, 'C', t.transfer, t.endpoint, addr, status, length, undefined, dirIn ? (data ?? EMPTY) : undefined, dirIn ? undefined : '>'), key);
    const failed = (error: unknown) => completed(urbStatus({ error }), 0, undefined);
    let p: Promise<R>;
    try {
      p = run();
    } catch (error) {
      failed(error);
      throw error;
    }
    p.then(
      (r) => {
        let o: { status: USBTransferStatus; length: number; data?: Uint8Array };
        try {
          o = result(r);
        } catch (error) {
          return failed(error);
        }
        completed(urbStatus(o), o.length, o.data);
      },
      failed,
    );
    return p;
  }

  private recordingUsb(inner: USBDevice, key: string, addr: CaptureAddress): USBDevice {
    const types = new Map<number, UsbmonTransferType>();
    const endpointType = (address: number): UsbmonTransferType => {
      const known = types.get(address);
      if (known) return known;
      for (const i of inner.configuration?.interfaces ?? []) {
        for (const e of i.alternate.endpoints) {
          if (((e.direction === 'in' ? 0x80 : 0) | e.endpointNumber) === address) {
            const t: UsbmonTransferType = e.type === 'interrupt' ? 'interrupt' : e.type === 'isochronous' ? 'isochronous' : 'bulk';
            types.set(address, t);
            return t;
          }
        }
      }
      return 'bulk';
    };
    const setupOf = (dir: 'in' | 'out', s: USBControlTransferParameters, wLength: number): UsbSetupPacket => ({
      bmRequestType: (dir === 'in' ? 0x80 : 0) | (REQUEST_TYPE[s.requestType] << 5) | RECIPIENT[s.recipient],
      bRequest: s.request,
      wValue: s.value,
      wIndex: s.index,
      wLength,
    });
    const bytes = (d: BufferSource | undefined): Uint8Array =>
      d === undefined ? new Uint8Array(0) : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice() : new Uint8Array(d).slice();
    const inResult = (r: USBInTransferResult) => {
      const data = r.data ? new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength).slice() : new Uint8Array(0);
      return { status: r.status, length: data.length, data };
    };
    const outResult = (r: USBOutTransferResult) => ({ status: r.status, length: r.bytesWritten });
    const standardOut = (setup: UsbSetupPacket, run: () => Promise<void>) =>
      this.transfer(key, addr, { transfer: 'control', endpoint: 0, setup, length: 0, out: new Uint8Array(0) }, run, () => ({ status: 'ok', length: 0 }));

    const recorded: Partial<Record<keyof USBDevice, unknown>> = {
      controlTransferIn: (setup: USBControlTransferParameters, length: number, ...rest: unknown[]) =>
        this.transfer(
          key,
          addr,
          { transfer: 'control', endpoint: 0x80, setup: setupOf('in', setup, length), length },
          () => (inner.controlTransferIn as (...a: unknown[]) => Promise<USBInTransferResult>).call(inner, setup, length, ...rest),
          inResult,
        ),
      controlTransferOut: (setup: USBControlTransferParameters, data?: BufferSource, ...rest: unknown[]) => {
        const out = bytes(data);
        return this.transfer(
          key,
          addr,
          { transfer: 'control', endpoint: 0, setup: setupOf('out', setup, out.length), length: out.length, out },
          () => (inner.controlTransferOut as (...a: unknown[]) => Promise<USBOutTransferResult>).call(inner, setup, data, ...rest),
          outResult,
        );
      },
      transferIn: (endpointNumber: number, length: number, ...rest: unknown[]) => {
        const ep = 0x80 | endpointNumber;
        return this.transfer(
          key,
          addr,
          { transfer: endpointType(ep), endpoint: ep, length },
          () => (inner.transferIn as (...a: unknown[]) => Promise<USBInTransferResult>).call(inner, endpointNumber, length, ...rest),
          inResult,
        );
      },
      transferOut: (endpointNumber: number, data: BufferSource, ...rest: unknown[]) => {
        const out = bytes(data);
        return this.transfer(
          key,
          addr,
          { transfer: endpointType(endpointNumber), endpoint: endpointNumber, length: out.length, out },
          () => (inner.transferOut as (...a: unknown[]) => Promise<USBOutTransferResult>).call(inner, endpointNumber, data, ...rest),
          outResult,
        );
      },
      // CLEAR_FEATURE(ENDPOINT_HALT) on ep0 (USB 2.0 §9.4.1), which is what usbmon shows for it.
      clearHalt: (direction: USBDirection, endpointNumber: number) =>
        standardOut({ bmRequestType: 0x02, bRequest: 0x01, wValue: 0, wIndex: (direction === 'in' ? 0x80 : 0) | endpointNumber, wLength: 0 }, () =>
          inner.clearHalt(direction, endpointNumber),
        ),
      // SET_INTERFACE (§9.4.10).
      selectAlternateInterface: (interfaceNumber: number, alternateSetting: number) =>
        standardOut({ bmRequestType: 0x01, bRequest: 0x0b, wValue: alternateSetting, wIndex: interfaceNumber, wLength: 0 }, () =>
          inner.selectAlternateInterface(interfaceNumber, alternateSetting),
        ),
      // SET_CONFIGURATION (§9.4.7); WebUSB sends none when the configuration is already selected.
      selectConfiguration: (value: number) => {
        if (inner.configuration?.configurationValue === value) return inner.selectConfiguration(value);
        types.clear();
        return standardOut({ bmRequestType: 0x00, bRequest: 0x09, wValue: value, wIndex: 0, wLength: 0 }, () => inner.selectConfiguration(value));
      },
    };
    return new Proxy(inner, {
      get(target, prop) {
        if (typeof prop === 'string' && prop in recorded) return recorded[prop as keyof USBDevice];
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
}
