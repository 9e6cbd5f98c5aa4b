// A recorded device played back: the chip side of an emulated device that answers from a
// capture. Control requests get the recorded answer for the same bmRequestType, bRequest,
// wValue and wIndex (several answers are given in recorded order, the last one repeating); IN
// endpoints return the recorded data in order, each piece only once our driver has sent as many
// operations as the recorded host had sent before it arrived (so an echo never comes before the
// write it answers). A class or vendor request the capture does not hold goes to the fallback: a
// chip emulation, or a stall that is logged. Everything the driver sends is kept for the diff.
import type { ControlReply, ControlSetup, InReply, MockBehaviour, MockDeviceContext, OutReply } from '../index.ts';
import { diffOps, type HostOp, type ReplayDiff } from './diff.ts';
import type { RecordedDevice, RecordedTransfer } from './session.ts';

export interface ReplayBehaviourOptions {
  /** Who answers a class/vendor request the capture lacks: a chip emulation, or 'stall' (default). */
  fallback?: MockBehaviour | 'stall';
  /** Compare standard requests too (default false: enumeration and configuration are the host stack's, not the driver's). */
  compareStandard?: boolean;
}

/** A request the capture did not hold, and who answered it. */
export interface UnrecordedRequest {
  setup: { bmRequestType: number; bRequest: number; wValue: number; wIndex: number; wLength: number };
  answeredBy: 'fallback' | 'stall';
}

interface InPiece {
  data: Uint8Array;
  /** Compared operations our driver must have sent first. */
  afterOps: number;
}

const controlKey = (s: { bmRequestType: number; bRequest: number; wValue: number; wIndex: number }) => `${s.bmRequestType}:${s.bRequest}:${s.wValue}:${s.wIndex}`;

function isStandard(bmRequestType: number): boolean {
  return ((bmRequestType >> 5) & 3) === 0;
}

export class ReplayBehaviour implements MockBehaviour {
  /** What the recorded host sent, in order (the compared operations). */
  readonly recorded: HostOp[] = [];
  /** What our driver sent, in order. */
  readonly sent: HostOp[] = [];
  readonly unrecorded: UnrecordedRequest[] = [];
  private readonly answers = new Map<string, RecordedTransfer[]>();
  private readonly answerAt = new Map<string, number>();
  private readonly inPieces = new Map<number, InPiece[]>();
  private readonly inPartial = new Map<number, Uint8Array>();
  private readonly fallback: MockBehaviour | 'stall';
  private readonly compareStandard: boolean;
  private ctx: MockDeviceContext | undefined;

  constructor(
    readonly source: RecordedDevice,
    options: ReplayBehaviourOptions = {},
  ) {
    this.fallback = options.fallback ?? 'stall';
    this.compareStandard = options.compareStandard ?? false;
    // Compared operations submitted before each transfer (prefix counts in submission order).
    const before: number[] = [];
    for (const t of source.transfers) {
      before.push(this.recorded.length);
      const op = this.toOp(t);
      if (op) this.recorded.push(op);
    }
    before.push(this.recorded.length);
    for (const t of source.transfers) {
      if (t.setup && t.status !== undefined) {
        const k = controlKey(t.setup);
        const list = this.answers.get(k) ?? [];
        list.push(t);
        this.answers.set(k, list);
      } else if (!t.setup && t.endpoint & 0x80 && t.status === 0 && t.in && t.in.length > 0) {
        const list = this.inPieces.get(t.endpoint) ?? [];
        list.push({ data: t.in, afterOps: before[Math.min(t.completedAfterHostOps, before.length - 1)]! });
        this.inPieces.set(t.endpoint, list);
      }
    }
  }

  /** The recorded host's operations against ours. */
  diff(): ReplayDiff {
    return diffOps(this.recorded, this.sent);
  }

  /** Recorded bulk/interrupt OUT data per endpoint address, in order (what a session wrote). */
  recordedOutData(endpoint: number): Uint8Array[] {
    return this.recorded.filter((o): o is Extract<HostOp, { kind: 'bulk' | 'interrupt' }> => o.kind !== 'control' && o.endpoint === endpoint).map((o) => o.data);
  }

  private toOp(t: RecordedTransfer): HostOp | undefined {
    if (t.setup) {
      if (isStandard(t.setup.bmRequestType) && !this.compareStandard) return undefined;
      return { kind: 'control', ...t.setup, ...(t.out && t.out.length ? { data: t.out } : {}) };
    }
    if (t.endpoint & 0x80 || (t.transfer !== 'bulk' && t.transfer !== 'interrupt')) return undefined;
    return { kind: t.transfer, endpoint: t.endpoint, data: t.out ?? new Uint8Array(0) };
  }

  private hostOp(op: HostOp): void {
    this.sent.push(op);
    // Data that waited for this operation may go now.
    if (this.ctx) for (const ep of this.inPieces.keys()) this.ctx.inReady(ep);
  }

  bind(ctx: MockDeviceContext): void {
    this.ctx = ctx;
    if (this.fallback !== 'stall') this.fallback.bind?.(ctx);
  }

  onControl(setup: ControlSetup, data: Uint8Array | undefined, ctx: MockDeviceContext): ControlReply | Promise<ControlReply> {
    const standard = isStandard(setup.bmRequestType);
    if (!standard || this.compareStandard) {
      this.hostOp({
        kind: 'control',
        bmRequestType: setup.bmRequestType,
        bRequest: setup.bRequest,
        wValue: setup.wValue,
        wIndex: setup.wIndex,
        wLength: setup.wLength,
        ...(data && data.length ? { data: data.slice() } : {}),
      });
    }
    const list = this.answers.get(controlKey(setup));
    if (list?.length) {
      const at = this.answerAt.get(controlKey(setup)) ?? 0;
      this.answerAt.set(controlKey(setup), at + 1);
      const t = list[Math.min(at, list.length - 1)]!;
      if (t.status !== 0) return 'stall';
      if (setup.direction === 'in') return t.in ?? 'ack';
      return 'ack';
    }
    // Standard requests the capture lacks: the device base answers them from the descriptors.
    if (standard) return undefined;
    if (this.fallback !== 'stall') {
      this.unrecorded.push({ setup: { ...setup }, answeredBy: 'fallback' });
      return this.fallback.onControl?.(setup, data, ctx) ?? 'stall';
    }
    this.unrecorded.push({ setup: { ...setup }, answeredBy: 'stall' });
    ctx.log.warn({ bmRequestType: setup.bmRequestType, bRequest: setup.bRequest, wValue: setup.wValue, wIndex: setup.wIndex }, 'replay: request not in the capture, stalled');
    return 'stall';
  }

  onOut(endpointAddress: number, data: Uint8Array, ctx: MockDeviceContext): OutReply | Promise<OutReply> {
    const type = ctx.device.configuration?.interfaces
      .flatMap((i) => i.alternate.endpoints)
      .find((e) => e.direction === 'out' && e.endpointNumber === (endpointAddress & 0x0f))?.type;
    this.hostOp({ kind: type === 'interrupt' ? 'interrupt' : 'bulk', endpoint: endpointAddress, data: data.slice() });
    if (this.fallback !== 'stall') return this.fallback.onOut?.(endpointAddress, data, ctx);
  }

  onIn(endpointAddress: number, maxBytes: number, ctx: MockDeviceContext): InReply {
    const partial = this.inPartial.get(endpointAddress);
    if (partial) {
      // The rest of a recorded transfer longer than a packet; a ZLP ends one of whole packets.
      const packet = partial.subarray(0, maxBytes);
      if (partial.length > maxBytes || (partial.length === maxBytes && maxBytes > 0)) this.inPartial.set(endpointAddress, partial.subarray(packet.length));
      else this.inPartial.delete(endpointAddress);
      return packet.slice();
    }
    const q = this.inPieces.get(endpointAddress);
    if (q?.length) {
      if (q[0]!.afterOps > this.sent.length) return undefined;
      const piece = q.shift()!;
      const packet = piece.data.subarray(0, maxBytes);
      if (piece.data.length >= maxBytes) this.inPartial.set(endpointAddress, piece.data.subarray(packet.length));
      return packet.slice();
    }
    if (this.fallback !== 'stall') return this.fallback.onIn?.(endpointAddress, maxBytes, ctx);
    return undefined;
  }

  plugged(ctx: MockDeviceContext): void {
    if (this.fallback !== 'stall') this.fallback.plugged?.(ctx);
  }
  unplugged(ctx: MockDeviceContext): void {
    if (this.fallback !== 'stall') this.fallback.unplugged?.(ctx);
  }
  reset(ctx: MockDeviceContext): void {
    if (this.fallback !== 'stall') this.fallback.reset?.(ctx);
  }
  opened(ctx: MockDeviceContext): void {
    if (this.fallback !== 'stall') this.fallback.opened?.(ctx);
  }
  closed(ctx: MockDeviceContext): void {
    if (this.fallback !== 'stall') this.fallback.closed?.(ctx);
  }
  configurationChanged(value: number | null, ctx: MockDeviceContext): void {
    if (this.fallback !== 'stall') this.fallback.configurationChanged?.(value, ctx);
  }
  alternateChanged(interfaceNumber: number, alternateSetting: number, ctx: MockDeviceContext): void {
    if (this.fallback !== 'stall') this.fallback.alternateChanged?.(interfaceNumber, alternateSetting, ctx);
  }
  haltCleared(endpointAddress: number, ctx: MockDeviceContext): void {
    if (this.fallback !== 'stall') this.fallback.haltCleared?.(endpointAddress, ctx);
  }
}
