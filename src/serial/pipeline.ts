// A steady IN pipeline: several transfers in flight on one endpoint (as many as the backend
// allows), each resubmitted as soon as it completes, so a fast UART does not overrun the chip
// while the host is busy. A timeout is an idle line, not a fault; the device gone stops it.
import { childLog } from '../log.ts';
import { transferErrorKind } from '../usb/host.ts';


/** Empty read completions in a row after which the pipeline lets timers and I/O run before it reads again. */
const EMPTY_RUN_BEFORE_YIELD = 8;
const log = childLog('serial.pipeline');

export interface InPipelineOptions {
  device: USBDevice;
  /** Endpoint number (without the direction bit). */
  endpoint: number;
  /** Bytes per transfer (a multiple of the max packet size). */
  transferSize: number;
  /** Transfers in flight (clamped to at least 1). */
  inFlight: number;
  /** Completed transfers, in submission order. */
  onData(data: DataView): void;
  /** The pipeline stopped on its own: the device went away or the endpoint failed. */
  onStop(reason: { kind: 'disconnected' | 'stall' | 'error'; error?: unknown }): void;
}

type Outcome = { ok: true; r: USBInTransferResult } | { ok: false; err: unknown };
/** One transfer in flight, with its outcome once it settled. */
type Slot = { outcome: Outcome | null };

export class InPipeline {
  private running = false;
  private paused = false;
  /** Transfers in flight in submission order; one leaves once its outcome has been handled. */
  private readonly slots: Slot[] = [];
  private idle: (() => void) | null = null;

  constructor(private readonly o: InPipelineOptions) {}

  get inFlight(): number {
    return this.slots.length;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.fill();
  }

  /** Stops resubmitting (reads already in flight complete); resume() carries on. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    if (this.running) this.fill();
  }

  /** Stops and waits until no transfer is in flight (they end by completion, timeout or abort). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.slots.length === 0) return;
    await new Promise<void>((r) => (this.idle = r));
  }

  /** Consecutive reads that ended with no data (empty, timed out or aborted). */
  private empty = 0;
  /** A refill waits for a timer turn (see EMPTY_RUN_BEFORE_YIELD). */
  private yielding = false;

  private fill(): void {
    const want = Math.max(1, this.o.inFlight);
    while (this.running && !this.paused && this.slots.length < want) this.submit();
  }

  private submit(): void {
    const slot: Slot = { outcome: null };
    this.slots.push(slot);
    // Each transfer settles into an outcome at once (on unplug libusb fails every transfer in
    // flight together: none may be left rejected and unhandled), then outcomes are handled in
    // submission order from the head of the queue, even if the backend completes out of order.
    // One settle handler per transfer and no promise chain between transfers: a chain lets one
    // rejected link reject every later one without running it.
    this.o.device.transferIn(this.o.endpoint, this.o.transferSize).then(
      (r) => this.settled(slot, { ok: true, r }),
      (err: unknown) => this.settled(slot, { ok: false, err }),
    );
  }

  private settled(slot: Slot, outcome: Outcome): void {
    slot.outcome = outcome;
    for (let head = this.slots[0]; head?.outcome; head = this.slots[0]) {
      // The head still counts as in flight while its outcome is handled.
      try {
        this.complete(head.outcome);
      } catch (error) {
        log.error({ err: error, endpoint: this.o.endpoint }, 'IN pipeline stop handler threw');
      }
      this.slots.shift();
      if (this.running) {
        // A device that answers every read at once with nothing (a zero-length flood, or a
        // backend failing reads on the spot) would have the resubmissions run as one endless
        // chain of promise jobs, starving timers and I/O: after a run of empty completions the
        // next read waits for a timer turn.
        if (this.empty >= EMPTY_RUN_BEFORE_YIELD) {
          this.empty = 0;
          if (!this.yielding) {
            this.yielding = true;
            setTimeout(() => {
              this.yielding = false;
              if (this.running) this.fill();
            }, 1);
          }
        } else if (!this.yielding) this.fill();
      } else if (this.slots.length === 0 && this.idle) {
        const done = this.idle;
        this.idle = null;
        done();
      }
    }
  }

  /** One transfer's outcome, in submission order. */
  private complete(o: Outcome): void {
    if (!this.running) return;
    if (o.ok) {
      const r = o.r;
      if (r.status === 'ok' && r.data) {
        if (r.data.byteLength > 0) {
          this.empty = 0;
          try {
            this.o.onData(r.data);
          } catch (error) {
            // The data handler is the driver's parser: one that throws is a driver bug. The
            // pipeline stops as on an endpoint error (Linux's read-URB completion cannot fail;
            // its owner decides whether to read again) instead of resubmitting past it.
            log.error({ err: error, endpoint: this.o.endpoint }, 'IN data handler threw');
            this.halt({ kind: 'error', error });
          }
        } else this.empty++;
      } else if (r.status === 'stall') {
        this.halt({ kind: 'stall' });
      } else {
        this.halt({ kind: 'error', error: new Error(`transferIn status ${r.status}`) });
      }
      return;
    }
    const kind = transferErrorKind(o.err);
    if (kind === 'timeout' || kind === 'aborted') {
      this.empty++;
      return;
    }
    this.halt({ kind: kind === 'disconnected' ? 'disconnected' : 'error', error: o.err });
  }

  private halt(reason: { kind: 'disconnected' | 'stall' | 'error'; error?: unknown }): void {
    if (!this.running) return;
    this.running = false;
    log.debug({ endpoint: this.o.endpoint, reason: reason.kind }, 'IN pipeline stopped');
    this.o.onStop(reason);
  }
}
