// The read side of a port (Linux: usb_serial_generic_submit_read_urbs and the read-URB completion,
// with pl2303's interrupt URB): a steady bulk IN pipeline and, where the chip has one, an interrupt
// IN pipeline started before it, so a status never trails the data it describes.
//
// One restart policy for both: a stall clears the halt and reads again, an endpoint error reads
// again; after READ_RESTARTS failures with no data between them the read side gives up and the
// port closes with UsbSerialReadError. The device gone closes the port with the backend's error.
// Pausing stops submitting (transfers in flight complete), so the chip's FIFO fills and its flow
// control or overrun reporting takes over; the pause holds across restarts.
import { childLog } from '../../log.ts';
import type { UsbEndpointInfo, UsbInterface } from '../../usb/device.ts';
import { transferErrorKind } from '../../usb/host.ts';
import { InPipeline } from '../pipeline.ts';
import { cancelTransfers } from './cancel.ts';

const log = childLog('serial.reader');

/** Restarts after a stall or error, with no data between them, before the read side gives up. */
export const READ_RESTARTS = 3;

/** The read side failed other than by the device going away (an endpoint kept failing). */
export class UsbSerialReadError extends Error {
  override readonly name = 'UsbSerialReadError';
}

export interface PortReaderOptions {
  readonly intf: UsbInterface;
  /** The interface holding the bulk endpoints when it is not `intf` (a CDC data interface). */
  readonly dataIntf?: UsbInterface;
  readonly bulkIn: UsbEndpointInfo;
  readonly interruptIn?: UsbEndpointInfo;
  /** Bytes per bulk IN transfer. */
  readonly transferSize: number;
  /** How long transfers in flight take to end on their own once no more are submitted (a chip
   *  that answers every latency period); 0: they may never end, cancel them at once. */
  readonly settleMs: number;
  onBulk(data: Uint8Array): void;
  onInterrupt?(data: Uint8Array): void;
  /** The read side stopped for good: the device went away or an endpoint kept failing. */
  onFailed(error: unknown): void;
  /** Whether the port still wants the interface claimed after a cancel. */
  keepClaimed(): boolean;
}

type StopReason = { kind: 'disconnected' | 'stall' | 'error'; error?: unknown };

class Lane {
  pipeline: InPipeline | null = null;
  restarts = 0;
  constructor(
    readonly ep: UsbEndpointInfo,
    readonly size: number,
    readonly inFlight: number,
    readonly deliver: (data: Uint8Array) => void,
  ) {}
}

export class PortReader {
  #running = false;
  #paused = false;
  #failed = false;
  readonly #lanes: Lane[] = [];

  constructor(private readonly o: PortReaderOptions) {
    const host = o.intf.usbDevice.host.maxTransfersInFlight;
    if (o.interruptIn && o.onInterrupt) this.#lanes.push(new Lane(o.interruptIn, o.interruptIn.packetSize, 1, o.onInterrupt));
    const size = Math.max(o.bulkIn.packetSize, Math.floor(o.transferSize / o.bulkIn.packetSize) * o.bulkIn.packetSize);
    this.#lanes.push(new Lane(o.bulkIn, size, host, o.onBulk));
  }

  get running(): boolean {
    return this.#running;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** IN transfers in flight on the bulk endpoint. */
  get inFlight(): number {
    return this.#lanes[this.#lanes.length - 1]!.pipeline?.inFlight ?? 0;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#failed = false;
    for (const lane of this.#lanes) this.startLane(lane);
  }

  /** Stops submitting bulk IN transfers; the chip's FIFO then fills. */
  pause(): void {
    this.#paused = true;
    this.bulkLane().pipeline?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.bulkLane().pipeline?.resume();
  }

  /**
   * Stops reading and returns once no IN transfer is in flight: transfers get `settleMs` to end
   * on their own, the rest are cancelled.
   */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    const pipelines = this.#lanes.map((l) => l.pipeline).filter((p): p is InPipeline => p !== null);
    for (const l of this.#lanes) l.pipeline = null;
    const stopped = Promise.all(pipelines.map((p) => p.stop()));
    if (pipelines.some((p) => p.inFlight > 0)) {
      if (!(await settles(stopped, this.o.settleMs))) {
        await cancelTransfers(this.o.intf, this.o.keepClaimed);
        if (this.o.dataIntf) await cancelTransfers(this.o.dataIntf, this.o.keepClaimed);
        if (!(await settles(stopped, 1000))) log.warn({ intf: this.o.intf.name }, 'IN transfers still pending after cancel');
      }
    }
  }

  private bulkLane(): Lane {
    return this.#lanes[this.#lanes.length - 1]!;
  }

  private startLane(lane: Lane): void {
    const pipeline: InPipeline = new InPipeline({
      device: this.o.intf.usb,
      endpoint: lane.ep.number,
      transferSize: lane.size,
      inFlight: lane.inFlight,
      onData: (view) => {
        if (lane.pipeline !== pipeline) return;
        lane.deliver(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        // Data the driver took (its parser did not throw) is what ends a run of failures.
        lane.restarts = 0;
      },
      onStop: (reason) => void this.stopped(lane, pipeline, reason),
    });
    lane.pipeline = pipeline;
    if (lane === this.bulkLane() && this.#paused) pipeline.pause();
    pipeline.start();
  }

  private async stopped(lane: Lane, pipeline: InPipeline, reason: StopReason): Promise<void> {
    if (reason.kind === 'disconnected') return this.fail(reason.error ?? new Error('device disconnected'));
    log.warn({ intf: this.o.intf.name, endpoint: lane.ep.address, reason: reason.kind, err: reason.error }, 'IN endpoint stopped; restarting');
    await pipeline.stop();
    if (!this.#running || lane.pipeline !== pipeline) return;
    if (lane.restarts++ >= READ_RESTARTS) {
      lane.pipeline = null;
      return this.fail(new UsbSerialReadError(`${this.o.intf.name}: IN endpoint 0x${lane.ep.address.toString(16)} keeps failing (${reason.kind})`));
    }
    try {
      if (reason.kind === 'stall') await this.o.intf.usb.clearHalt('in', lane.ep.number);
    } catch (err) {
      if (transferErrorKind(err) === 'disconnected' || this.o.intf.usbDevice.gone) return this.fail(err);
      log.warn({ err, intf: this.o.intf.name }, 'clearHalt failed');
    }
    if (this.#running && lane.pipeline === pipeline) this.startLane(lane);
  }

  private fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#running = false;
    for (const l of this.#lanes) {
      void l.pipeline?.stop();
      l.pipeline = null;
    }
    this.o.onFailed(error);
  }
}

async function settles(p: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms <= 0) return false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
    timer.unref?.();
  });
  const r = await Promise.race([p.then(() => true as const), late]);
  clearTimeout(timer);
  return r;
}
