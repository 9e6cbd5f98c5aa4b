// The host controller's side of a mock device's pipes: pending transfers, one queue per
// bulk/interrupt endpoint served in order, packetisation of IN data pulled from the emulation,
// OUT data handed over one transfer at a time per endpoint, the default pipe serving one control
// request at a time, halts, timeouts and injected faults, each transfer recorded in the log.
import type { Logger } from 'pino';
import { AsyncMutex, KeyedMutex } from '../src/core/mutex.ts';
import { transferError } from '../src/usb/host.ts';
import type { EndpointDescriptor } from './descriptors.ts';
import { decodeSetup, type ControlReply, type ControlSetup, type InReply, type MockBehaviour, type MockDeviceContext } from './emulation.ts';
import type { FaultInjector, FiredFault } from './faults.ts';
import type { SetupFields, TransferKind, TransferLog, TransferLogEntry } from './transfer-log.ts';
import { nextMacrotask, runSoon } from './macrotask.ts';

/** Per-transfer options beyond WebUSB's arguments (the mock's extension; backends have a timeout too). */
export interface TransferOptions {
  /** Milliseconds until TimeoutError; undefined: the device's transferTimeoutMs. */
  timeoutMs?: number;
}

/** What the pipes need of their device. */
export interface PipeOwner {
  readonly behaviour: MockBehaviour;
  readonly ctx: MockDeviceContext;
  readonly transfers: TransferLog;
  readonly faults: FaultInjector;
  readonly transferTimeoutMs: number | undefined;
  /** Bumped at every plug and unplug: async steps compare it to notice they lost the device. */
  readonly generation: number;
  /** The endpoint descriptor in the current configuration and alternates. */
  activeEndpoint(address: number): EndpointDescriptor | undefined;
  /** Unplugs from the host (the disconnect fault), if still plugged in generation `gen`. */
  unplug(gen: number): void;
  /** A timer that dies with the device's power (cleared on unplug). */
  powerTimer(ms: number, fn: () => void): void;
  /** The base's answer to a request the emulation left: standard requests, else undefined. */
  standardRequest(setup: ControlSetup): ControlReply;
  /** State that follows an accepted standard request, whoever answered it. */
  afterStandard(setup: ControlSetup): void;
  log(): Logger;
}

export type Settle =
  | { status: USBTransferStatus; data?: Uint8Array; bytesWritten?: number }
  | { error: Error };

export interface Pending {
  kind: TransferKind;
  /** Endpoint address (0 / 0x80 for control). */
  ep: number;
  /** Interface owning the endpoint (bulk/interrupt); null for control. */
  iface: number | null;
  entry: TransferLogEntry;
  settle: (s: Settle) => void;
  done: boolean;
  timer?: ReturnType<typeof setTimeout>;
  /** Never served (timeout / disconnect fault). */
  blocked: boolean;
  notBefore: number;
  /** IN: bytes asked and received; limit < length under a short fault. */
  length: number;
  limit: number;
  short: boolean;
  chunks: Uint8Array[];
  got: number;
  /** OUT / control OUT data. */
  data?: Uint8Array;
  started: boolean;
  fault?: FiredFault;
}

const macrotask = nextMacrotask;

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].length === total) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export class EndpointPipes {
  /** Halted endpoint addresses. */
  readonly halted = new Set<number>();
  private readonly pending = new Set<Pending>();
  private readonly queues = new Map<number, Pending[]>();
  private readonly pumpScheduled = new Set<number>();
  private readonly pumpTimers = new Map<number, ReturnType<typeof setTimeout>>();
  private readonly injected = new Map<number, Uint8Array[]>();
  /** OUT data goes to the emulation one transfer at a time per endpoint. */
  private outPipes = new KeyedMutex<number>();
  /** The default pipe serves one request at a time, in order, even when a handler is slow. */
  private controlPipe = new AsyncMutex();

  constructor(private readonly owner: PipeOwner) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Pending transfers on one endpoint address (0 counts control transfers). */
  pendingOn(endpointAddress: number): number {
    let n = 0;
    for (const p of this.pending) if (p.ep === endpointAddress || (endpointAddress === 0 && p.iface === null)) n++;
    return n;
  }

  /** Transfers queued on a bulk/interrupt endpoint. */
  queuedOn(endpointAddress: number): number {
    return this.queues.get(endpointAddress)?.length ?? 0;
  }

  /** New IN data may be ready: pending IN transfers on the endpoint are polled again. */
  inReady(endpointAddress: number): void {
    if (this.queues.has(endpointAddress)) this.schedulePump(endpointAddress);
  }

  /** Packets the device sends before anything the emulation produces (see MockUsbDevice.queueIn). */
  inject(endpointAddress: number, packets: Uint8Array[]): void {
    const q = this.injected.get(endpointAddress) ?? [];
    q.push(...packets);
    this.injected.set(endpointAddress, q);
    this.schedulePump(endpointAddress);
  }

  /** A bus reset loses endpoint state: halts and injected packets. */
  resetEndpoints(): void {
    this.halted.clear();
    this.injected.clear();
  }

  /** Halts an endpoint from the device side; pending and new transfers on it stall. */
  halt(address: number): void {
    this.halted.add(address);
    this.schedulePump(address);
  }

  /** Clears a halt (CLEAR_FEATURE ENDPOINT_HALT); true if it was halted. */
  clearHalt(address: number): boolean {
    const was = this.halted.delete(address);
    this.schedulePump(address);
    return was;
  }

  /** Power lost: every pending transfer rejects with `error`, queues and halts are gone. */
  powerOff(error: () => Error): void {
    for (const p of [...this.pending]) this.finish(p, { error: error() });
    for (const t of this.pumpTimers.values()) clearTimeout(t);
    this.pumpTimers.clear();
    this.injected.clear();
    this.halted.clear();
    this.controlPipe = new AsyncMutex();
    this.outPipes = new KeyedMutex<number>();
  }

  /** A new transfer, logged and (bulk/interrupt) queued on its endpoint; startTransfer serves it. */
  newPending(
    kind: TransferKind,
    ep: number,
    iface: number | null,
    settle: (s: Settle) => void,
    io: { length?: number; data?: Uint8Array; setup?: SetupFields },
  ): Pending {
    const capture = this.owner.transfers.captureData;
    const entry = this.owner.transfers.open({
      kind,
      endpoint: ep,
      setup: io.setup,
      length: io.length,
      data: io.data && capture ? io.data.slice() : undefined,
      bytes: io.data ? io.data.length : undefined,
    });
    const p: Pending = {
      kind,
      ep,
      iface,
      entry,
      settle,
      done: false,
      blocked: false,
      notBefore: 0,
      length: io.length ?? 0,
      limit: io.length ?? io.data?.length ?? 0,
      short: false,
      chunks: [],
      got: 0,
      data: io.data,
      started: false,
    };
    this.pending.add(p);
    if (iface !== null) {
      const q = this.queues.get(ep);
      if (q) q.push(p);
      else this.queues.set(ep, [p]);
    }
    return p;
  }

  /** Applies a fault (if one matches) and the timeout, then lets the endpoint's queue serve it. */
  startTransfer(
    p: Pending,
    probe: { on: 'control' | 'in' | 'out'; endpoint?: number; request?: number; direction?: USBDirection; value?: number; index?: number },
    options: TransferOptions | undefined,
  ): void {
    const timeout = options?.timeoutMs ?? this.owner.transferTimeoutMs;
    const f = this.owner.faults.take(probe);
    if (f) {
      p.fault = f;
      p.entry.fault = f.kind;
      this.owner.log().debug({ fault: f.kind, kind: p.kind, endpoint: p.ep }, 'fault fires');
      const isIn = p.kind.endsWith('-in');
      switch (f.kind) {
        case 'stall':
          p.blocked = true;
          // A bulk/interrupt stall halts the endpoint; a control stall fails only this request.
          if (p.iface !== null) this.halted.add(p.ep);
          runSoon(() => this.finish(p, { status: 'stall', bytesWritten: 0 }));
          return;
        case 'babble': {
          p.blocked = true;
          const n = Math.min(p.length, f.bytes ?? p.length);
          runSoon(() => this.finish(p, { status: 'babble', data: new Uint8Array(n).fill(0xff) }));
          return;
        }
        case 'timeout': {
          p.blocked = true;
          const ms = f.ms ?? timeout ?? 0;
          p.timer = setTimeout(() => this.finish(p, { error: transferError('timeout', `transfer timed out after ${ms} ms (injected)`) }), ms);
          return;
        }
        case 'disconnect': {
          p.blocked = true;
          const gen = this.owner.generation;
          this.owner.powerTimer(f.ms ?? 0, () => this.owner.unplug(gen));
          break; // the transfer's own timeout still applies, as it would on a real bus
        }
        case 'delay':
          p.notBefore = performance.now() + (f.ms ?? 0);
          break;
        case 'short':
          p.short = true;
          p.limit = Math.min(p.limit, f.bytes ?? Math.floor((isIn ? p.length : (p.data?.length ?? 0)) / 2));
          break;
      }
    }
    if (timeout !== undefined) {
      p.timer = setTimeout(() => {
        // Bytes the device already sent are not dropped (libusb reports them with the timeout too).
        if (p.got > 0) this.finish(p, { status: 'ok', data: concat(p.chunks, p.got) });
        else this.finish(p, { error: transferError('timeout', `transfer timed out after ${timeout} ms`) });
      }, timeout);
    }
    if (p.iface === null) {
      if (!p.blocked) this.enqueueControl(p);
    } else {
      this.schedulePump(p.ep);
    }
  }

  finish(p: Pending, s: Settle): void {
    if (p.done) return;
    p.done = true;
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(p);
    if (p.iface !== null) {
      const q = this.queues.get(p.ep);
      const at = q ? q.indexOf(p) : -1;
      if (q && at >= 0) {
        q.splice(at, 1);
        if (q.length === 0) this.queues.delete(p.ep);
        else if (at === 0) this.schedulePump(p.ep);
      }
    }
    const e = p.entry;
    e.end = performance.now();
    if ('error' in s) {
      e.error = { name: s.error.name, message: s.error.message };
    } else {
      e.status = s.status;
      if (s.data) {
        e.bytes = s.data.length;
        if (this.owner.transfers.captureData) e.data = s.data.slice();
      } else if (s.bytesWritten !== undefined) {
        e.bytes = s.bytesWritten;
        if (e.data && s.bytesWritten < e.data.length) e.data = e.data.slice(0, s.bytesWritten);
      }
    }
    p.settle(s);
  }

  /** Rejects matching pending transfers with AbortError (release, close, reset, new configuration). */
  abortWhere(pred: (p: Pending) => boolean, why: string): void {
    for (const p of [...this.pending]) if (pred(p)) this.finish(p, { error: transferError('aborted', `transfer aborted: ${why}`) });
  }

  schedulePump(ep: number): void {
    if (this.pumpScheduled.has(ep)) return;
    this.pumpScheduled.add(ep);
    // Always a macrotask: a read loop fed at once must still let timers and I/O run, as on real hardware.
    runSoon(() => {
      this.pumpScheduled.delete(ep);
      if (ep & 0x80) this.pumpIn(ep);
      else this.pumpOut(ep);
    });
  }

  private waitUntil(ep: number, at: number): void {
    if (this.pumpTimers.has(ep)) return;
    const t = setTimeout(() => {
      this.pumpTimers.delete(ep);
      this.schedulePump(ep);
    }, Math.max(0, at - performance.now()));
    this.pumpTimers.set(ep, t);
  }

  private pumpIn(ep: number): void {
    const q = this.queues.get(ep);
    while (q && q.length > 0) {
      const p = q[0];
      if (p.blocked) return;
      if (p.notBefore > performance.now()) return this.waitUntil(ep, p.notBefore);
      if (this.halted.has(ep)) {
        this.finish(p, { status: 'stall', data: concat(p.chunks, p.got) });
        continue;
      }
      const size = (this.owner.activeEndpoint(ep)?.wMaxPacketSize ?? 64) & 0x7ff;
      for (;;) {
        const room = p.limit - p.got;
        if (room <= 0) {
          this.finish(p, { status: 'ok', data: concat(p.chunks, p.got) });
          break;
        }
        const max = p.short ? Math.min(size, room) : size;
        let reply: InReply;
        try {
          reply = this.produceIn(ep, max);
        } catch (err) {
          this.finish(p, { error: err instanceof Error ? err : new Error(String(err)) });
          break;
        }
        if (reply === undefined) return; // NAK: wait for ctx.inReady / queueIn
        if (reply === 'stall') {
          this.halted.add(ep);
          this.finish(p, { status: 'stall', data: concat(p.chunks, p.got) });
          break;
        }
        if (reply.length > room || reply.length > size) {
          // Babble: the device sent more than the host had room for; the excess is lost.
          const keep = reply.subarray(0, Math.min(room, reply.length));
          p.chunks.push(keep);
          p.got += keep.length;
          this.finish(p, { status: 'babble', data: concat(p.chunks, p.got) });
          break;
        }
        p.chunks.push(reply);
        p.got += reply.length;
        if (reply.length < size || p.got >= p.limit) {
          this.finish(p, { status: 'ok', data: concat(p.chunks, p.got) });
          break;
        }
      }
    }
  }

  private produceIn(ep: number, max: number): InReply {
    const q = this.injected.get(ep);
    if (q && q.length > 0) {
      const head = q[0];
      if (head.length <= max) {
        q.shift();
        return head;
      }
      // A short fault asked for less than a queued packet: split it rather than lose bytes.
      q[0] = head.subarray(max);
      return head.subarray(0, max);
    }
    return this.owner.behaviour.onIn?.(ep, max, this.owner.ctx);
  }

  private pumpOut(ep: number): void {
    const q = this.queues.get(ep);
    while (q && q.length > 0) {
      const p = q[0];
      if (p.started || p.blocked) return;
      if (p.notBefore > performance.now()) return this.waitUntil(ep, p.notBefore);
      if (this.halted.has(ep)) {
        this.finish(p, { status: 'stall', bytesWritten: 0 });
        continue;
      }
      p.started = true;
      const data = p.data!.subarray(0, p.limit);
      void this.outPipes.run(ep, async () => {
        if (p.done) return; // aborted or timed out before the device took it
        try {
          const r = await this.owner.behaviour.onOut?.(ep, data, this.owner.ctx);
          if (r === 'stall') {
            this.halted.add(ep);
            this.finish(p, { status: 'stall', bytesWritten: 0 });
          } else {
            this.finish(p, { status: 'ok', bytesWritten: data.length });
          }
        } catch (err) {
          this.finish(p, { error: err instanceof Error ? err : new Error(String(err)) });
        }
      });
      return;
    }
  }

  /** Runs one control transfer on the default pipe (public methods and internal requests alike). */
  submitControl(
    fields: SetupFields,
    data: Uint8Array | undefined,
    options?: TransferOptions,
  ): Promise<{ status: USBTransferStatus; data?: Uint8Array; bytesWritten?: number }> {
    const setup = decodeSetup(fields);
    return new Promise((resolve, reject) => {
      const p = this.newPending(
        setup.direction === 'in' ? 'control-in' : 'control-out',
        setup.direction === 'in' ? 0x80 : 0x00,
        null,
        (s) => ('error' in s ? reject(s.error) : resolve(s)),
        { setup: fields, data: setup.direction === 'out' ? data : undefined, length: setup.direction === 'in' ? fields.wLength : undefined },
      );
      this.startTransfer(
        p,
        { on: 'control', request: fields.bRequest, direction: setup.direction, value: fields.wValue, index: fields.wIndex },
        options,
      );
    });
  }

  private enqueueControl(p: Pending): void {
    const gen = this.owner.generation;
    void this.controlPipe.run(async () => {
      if (p.done || gen !== this.owner.generation) return;
      const wait = p.notBefore - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else await macrotask();
      if (p.done || gen !== this.owner.generation) return;
      const setup = decodeSetup(p.entry.setup!);
      const out = setup.direction === 'out' ? p.data!.subarray(0, p.limit) : undefined;
      let reply: ControlReply;
      try {
        reply = await this.owner.behaviour.onControl?.(setup, out, this.owner.ctx);
        if (reply === undefined) reply = this.owner.standardRequest(setup);
      } catch (err) {
        this.finish(p, { error: err instanceof Error ? err : new Error(String(err)) });
        return;
      }
      if (gen !== this.owner.generation) return;
      if (reply === undefined || reply === 'stall') {
        this.finish(p, { status: 'stall', data: setup.direction === 'in' ? new Uint8Array(0) : undefined, bytesWritten: 0 });
        return;
      }
      if (setup.requestType === 'standard') this.owner.afterStandard(setup);
      if (setup.direction === 'in') {
        const bytes = reply === 'ack' ? new Uint8Array(0) : reply;
        const n = Math.min(bytes.length, setup.wLength, p.limit);
        this.finish(p, { status: 'ok', data: bytes.slice(0, n) });
      } else {
        this.finish(p, { status: 'ok', bytesWritten: out!.length });
      }
    }).catch((err: unknown) => {
      // An emulation callback that followed the request (configurationChanged, ...) threw.
      this.finish(p, { error: err instanceof Error ? err : new Error(String(err)) });
    });
  }
}
