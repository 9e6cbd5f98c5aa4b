// Byte-exact traffic through the wires. Writers send sequence-numbered frames; the receiving side
// compares every byte with what was handed to write(), in order, as it arrives.
//
// A link direction (port A -> port B, or A -> A through a loopback plug) carries epochs: one per
// stretch of time both ends were open. Within an epoch every byte must arrive in order. An epoch
// ends when an end closes (the harness drains it first, so nothing may be missing) or goes away
// (unplug, unbind, deregistration: the rest may be lost, and the loss is reported). Bytes of an
// ended epoch still in a chip's FIFO may arrive later, before any byte of the next epoch; a
// switch to the next epoch is accepted only where the previous one was cut by a disconnect or
// was complete.
import { Rng } from './random.ts';

export const FRAME_MAGIC = [0xa5, 0x5a] as const;
export const FRAME_HEADER = 11;
export const FRAME_MAX_PAYLOAD = 256;

/** Epoch numbers skip values whose bytes could be mistaken for the frame magic. */
export function nextEpochNumber(prev: number): number {
  let e = (prev + 1) & 0xffff;
  const bad = (b: number) => b === 0xa5 || b === 0x5a;
  while (bad(e & 0xff) || bad(e >> 8)) e = (e + 1) & 0xffff;
  return e;
}

/** Builds frames carrying `size` payload bytes (payload drawn from `rng`). */
export function buildFrames(link: number, epoch: number, firstSeq: number, size: number, rng: Rng): { bytes: Uint8Array; frames: number } {
  const parts: Uint8Array[] = [];
  let left = size;
  let seq = firstSeq;
  while (left > 0) {
    const n = Math.min(left, 1 + rng.int(FRAME_MAX_PAYLOAD));
    const f = new Uint8Array(FRAME_HEADER + n + 1);
    f[0] = FRAME_MAGIC[0];
    f[1] = FRAME_MAGIC[1];
    f[2] = link & 0xff;
    f[3] = epoch & 0xff;
    f[4] = epoch >> 8;
    f[5] = seq & 0xff;
    f[6] = (seq >>> 8) & 0xff;
    f[7] = (seq >>> 16) & 0xff;
    f[8] = seq >>> 24;
    f[9] = n & 0xff;
    f[10] = n >> 8;
    f.set(rng.bytes(n), FRAME_HEADER);
    let sum = 0;
    for (let i = 0; i < f.length - 1; i++) sum = (sum + f[i]!) & 0xff;
    f[f.length - 1] = sum;
    parts.push(f);
    left -= n;
    seq++;
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, frames: parts.length };
}

/** Bytes not yet received, as a queue of chunks. */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  /** The byte at `i` from the front, or -1. */
  at(i: number): number {
    if (i >= this.size) return -1;
    let k = this.head + i;
    for (const c of this.chunks) {
      if (k < c.length) return c[k]!;
      k -= c.length;
    }
    return -1;
  }

  /** The first `n` bytes (fewer if shorter). */
  peekMany(n: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < Math.min(n, this.size); i++) out.push(this.at(i));
    return out;
  }

  drop(n: number): void {
    let left = Math.min(n, this.size);
    this.size -= left;
    while (left > 0) {
      const c = this.chunks[0]!;
      const avail = c.length - this.head;
      if (left < avail) {
        this.head += left;
        return;
      }
      left -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** Where `bytes` occur in the queue at or after `from`, or -1. */
  indexOf(bytes: readonly number[], from = 0): number {
    const flat = this.peekMany(this.size);
    outer: for (let i = from; i + bytes.length <= flat.length; i++) {
      for (let k = 0; k < bytes.length; k++) if (flat[i + k] !== bytes[k]) continue outer;
      return i;
    }
    return -1;
  }

  startsWith(bytes: readonly number[]): boolean {
    if (bytes.length > this.size) return false;
    for (let i = 0; i < bytes.length; i++) if (this.at(i) !== bytes[i]) return false;
    return true;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.size = 0;
  }
}

export type EpochEnd = 'close' | 'unplug' | 'unbind' | 'deregister' | 'disconnect' | 'end';

export interface Epoch {
  readonly link: LinkState;
  readonly number: number;
  /** The event that opened it. */
  readonly startEvent: number;
  readonly pending: ByteQueue;
  handed: number;
  reported: number;
  received: number;
  frames: number;
  nextSeq: number;
  writesInFlight: number;
  ended: { reason: EpochEnd; event: number } | null;
  /** Its accounting was closed (a later epoch started arriving, or the run ended). */
  finished: boolean;
  /** A mismatch was reported; the rest of it is not checked. */
  broken: boolean;
  /** Gaps skipped (bytes purged in the middle of a cut epoch). */
  gaps: number;
}

/** A loss the rules allow (at an unplug, unbind or deregistration), for the report. */
export interface Loss {
  readonly link: string;
  readonly epoch: number;
  readonly reason: EpochEnd;
  readonly event: number;
  readonly handed: number;
  readonly reported: number;
  readonly received: number;
  /** Reported-sent bytes that never arrived. */
  readonly lost: number;
}

export interface TrafficProblem {
  readonly kind: 'order' | 'loss' | 'unexpected';
  readonly message: string;
  readonly details: Record<string, unknown>;
}

const TAIL = 16;
/** Bytes that must match to place received bytes after a gap in a cut epoch. */
const GAP_WINDOW = 12;
const HOLD = Symbol('hold');

/** One direction of one wire. */
export class LinkState {
  readonly epochs: Epoch[] = [];
  /** Index in `epochs` of the epoch bytes are arriving for. */
  private rx = 0;
  private tail: number[] = [];
  /** Bytes after a mismatch in a cut epoch, kept until there are enough to find where they belong. */
  private holdback = new Uint8Array(0);
  private lastEpochNumber = 0;
  totalReceived = 0;
  totalReported = 0;

  constructor(
    readonly id: string,
    readonly index: number,
    readonly from: string,
    readonly to: string,
    private readonly onLoss: (loss: Loss) => void,
  ) {}

  /** The epoch writes go to, if both ends are open. */
  get active(): Epoch | null {
    const last = this.epochs[this.epochs.length - 1];
    return last && !last.ended ? last : null;
  }

  startEpoch(event: number): Epoch {
    const prev = this.active;
    if (prev) this.endEpoch('close', event);
    // Nothing more can arrive for ended epochs whose bytes all came: close their accounts now.
    while (this.rx < this.epochs.length) {
      const e = this.epochs[this.rx]!;
      if (!e.ended || (!e.broken && (e.pending.length > 0 || e.writesInFlight > 0))) break;
      this.finish(e);
      this.rx++;
      this.tail = [];
    }
    this.prune();
    this.lastEpochNumber = nextEpochNumber(this.lastEpochNumber);
    const e: Epoch = {
      link: this,
      number: this.lastEpochNumber,
      startEvent: event,
      pending: new ByteQueue(),
      handed: 0,
      reported: 0,
      received: 0,
      frames: 0,
      nextSeq: 0,
      writesInFlight: 0,
      ended: null,
      finished: false,
      broken: false,
      gaps: 0,
    };
    this.epochs.push(e);
    return e;
  }

  endEpoch(reason: EpochEnd, event: number): Epoch | null {
    const e = this.active;
    if (!e) return null;
    e.ended = { reason, event };
    return e;
  }

  /** Bytes written in the active epoch that have not all arrived (writes in flight count). */
  get undelivered(): number {
    const e = this.active;
    return e && !e.broken ? e.pending.length + (e.writesInFlight > 0 ? 1 : 0) : 0;
  }

  /** Feeds received bytes; returns the first problem found (the rest of the chunk is then skipped). */
  receive(data: Uint8Array, event: number): TrafficProblem | null {
    let buf = data;
    if (this.holdback.length > 0) {
      buf = new Uint8Array(this.holdback.length + data.length);
      buf.set(this.holdback);
      buf.set(data, this.holdback.length);
      this.holdback = new Uint8Array(0);
    }
    for (let i = 0; i < buf.length; i++) {
      const r = this.consume(buf[i]!, buf, i, event);
      if (r === null) continue;
      if (r === HOLD) {
        this.holdback = buf.slice(i);
        return null;
      }
      if (typeof r === 'number') {
        i = r - 1;
        continue;
      }
      return r;
    }
    return null;
  }

  /** Closes the accounting of every epoch before the active one and reports their losses (end of run). */
  finishAll(): void {
    for (const e of this.epochs) if (e.ended) this.finish(e);
    this.prune();
  }

  /**
   * One byte: null when it is the next expected one (or starts a later epoch), HOLD to wait for
   * more bytes, an index to resume at (a gap in a cut epoch was skipped), or the problem.
   */
  private consume(b: number, chunk: Uint8Array, at: number, event: number): TrafficProblem | null | number | typeof HOLD {
    const cur = this.epochs[this.rx];
    if (!cur) {
      return {
        kind: 'unexpected',
        message: `${this.to} received ${chunk.length - at} byte(s) on link ${this.id} while nothing was sent on it`,
        details: { link: this.id, first: hexBytes(chunk.subarray(at, at + 16)) },
      };
    }
    if (!cur.broken && cur.pending.at(0) === b) {
      cur.pending.drop(1);
      cur.received++;
      this.totalReceived++;
      this.tail.push(b);
      if (this.tail.length > TAIL) this.tail.shift();
      return null;
    }
    // Not the next byte of this epoch: is it the start of a later one?
    for (let j = this.rx + 1; j < this.epochs.length; j++) {
      const skipped = this.epochs.slice(this.rx, j);
      const blocker = skipped.find((e) => !e.broken && (!e.ended || (e.ended.reason === 'close' && e.pending.length > 0 && e.reported > e.received)));
      if (blocker) break;
      const next = this.epochs[j]!;
      if (next.handed === 0) continue;
      for (let k = Math.min(this.tail.length, TAIL - 1); k >= 0; k--) {
        const cand = [...this.tail.slice(this.tail.length - k), b];
        if (next.pending.startsWith(cand)) {
          // The last k bytes we credited to the old epoch were the new one's.
          cur.received -= k;
          for (const e of skipped) this.finish(e);
          next.pending.drop(cand.length);
          next.received += cand.length;
          this.totalReceived += 1;
          this.rx = j;
          this.tail = cand.slice(-TAIL);
          this.prune();
          return null;
        }
      }
      if (!(next.ended && next.ended.reason !== 'close')) break;
    }
    // Already reported: skip the rest of it quietly until a later epoch starts arriving.
    if (cur.broken) return null;
    // A cut epoch may also lose bytes in the middle (a FIFO purged while the rest was still on
    // its way): find where these bytes sit further on, by a window long enough to be unique.
    if (cur.ended && cur.ended.reason !== 'close' && cur.pending.length > 1) {
      const avail = chunk.length - at;
      const want = Math.min(GAP_WINDOW, cur.pending.length);
      if (avail < want) return HOLD;
      const window = Array.from(chunk.subarray(at, at + want));
      const skip = cur.pending.indexOf(window, 1);
      if (skip > 0) {
        cur.pending.drop(skip + want);
        cur.received += want;
        cur.gaps++;
        this.totalReceived += want;
        this.tail = window.slice(-TAIL);
        return at + want;
      }
      // Fewer than a window of the cut epoch is left after the gap: its last k bytes, then the
      // first bytes of the next epoch, together a window long enough to be unique.
      const resume = this.tailThenNext(cur, chunk, at, want);
      if (resume !== null) return resume;
      const later = this.inLaterCutEpoch(chunk, at);
      if (later !== null) return later;
    }
    cur.broken = true;
    const offset = cur.received;
    const expected = cur.pending.peekMany(8);
    return {
      kind: 'order',
      message:
        cur.pending.length === 0
          ? `${this.to} received an extra byte 0x${hex2(b)} after all ${cur.handed} bytes of epoch ${cur.number} on link ${this.id} (${cur.ended ? `ended by ${cur.ended.reason}` : 'still open'})`
          : `${this.to} received 0x${hex2(b)} where byte ${offset} of epoch ${cur.number} on link ${this.id} should be 0x${hex2(expected[0]!)}`,
      details: {
        link: this.id,
        epoch: cur.number,
        offset,
        got: hexBytes(chunk.subarray(at, at + 16)),
        expected: hexBytes(expected),
        recentlyMatched: hexBytes(this.tail),
        epochStartedAtEvent: cur.startEvent,
        event,
      },
    };
  }

  /**
   * Where the last k bytes of the cut epoch `cur` sit at `at`, directly followed by the start of
   * the next epoch that has bytes (GAP_WINDOW bytes matched in all): credits them, closes `cur`
   * and resumes at the next epoch's first byte. Null when no such split fits.
   */
  private tailThenNext(cur: Epoch, chunk: Uint8Array, at: number, want: number): number | null {
    const j = this.epochs.findIndex((e, i) => i > this.rx && e.handed > 0);
    if (j < 0) return null;
    const next = this.epochs[j]!;
    const between = this.epochs.slice(this.rx + 1, j);
    if (between.some((e) => !e.broken && e.pending.length > 0)) return null;
    const n = cur.pending.length;
    for (let k = Math.min(want - 1, n - 1); k >= 1; k--) {
      let tailMatches = true;
      for (let i = 0; i < k && tailMatches; i++) tailMatches = chunk[at + i] === cur.pending.at(n - k + i);
      if (!tailMatches) continue;
      const head = Array.from(chunk.subarray(at + k, at + want));
      if (head.length < want - k || !next.pending.startsWith(head)) continue;
      cur.received += k;
      cur.gaps++;
      this.totalReceived += k;
      cur.pending.clear();
      for (const e of this.epochs.slice(this.rx, j)) this.finish(e);
      this.rx = j;
      this.tail = [];
      this.prune();
      return at + k;
    }
    return null;
  }

  /**
   * Where the bytes at `at` sit inside a later epoch that was cut as well (a cut epoch may lose
   * any of its bytes, its first ones too: those a killed IN transfer held when the port went), with
   * every epoch in between cut or fully received. CDC-ACM has no purge request and Linux's
   * cdc_acm flushes nothing at open, so what the chip still held of a cut epoch arrives at the
   * next open. Credits a window of GAP_WINDOW bytes and resumes after it; HOLD while fewer bytes
   * than a window have come; null when no later cut epoch holds them.
   */
  private inLaterCutEpoch(chunk: Uint8Array, at: number): number | typeof HOLD | null {
    const cut = (e: Epoch) => e.ended !== null && e.ended.reason !== 'close';
    for (let j = this.rx + 1; j < this.epochs.length; j++) {
      const e = this.epochs[j]!;
      if (cut(e) && !e.broken && e.pending.length > 0) {
        const want = Math.min(GAP_WINDOW, e.pending.length);
        if (chunk.length - at < want) return HOLD;
        const window = Array.from(chunk.subarray(at, at + want));
        const skip = e.pending.indexOf(window, 0);
        if (skip >= 0) {
          for (const x of this.epochs.slice(this.rx, j)) this.finish(x);
          e.pending.drop(skip + want);
          e.received += want;
          if (skip > 0) e.gaps++;
          this.totalReceived += want;
          this.rx = j;
          this.tail = window.slice(-TAIL);
          this.prune();
          return at + want;
        }
      }
      // Bytes of this epoch still owed (it was not cut, or nothing of it may be skipped): later
      // epochs' bytes cannot come before them.
      if (!e.broken && e.pending.length > 0 && !cut(e)) return null;
    }
    return null;
  }

  private finish(e: Epoch): void {
    if (e.finished) return;
    e.finished = true;
    this.totalReported += e.reported;
    const lost = Math.max(0, e.reported - e.received);
    if (e.ended && (e.handed > e.received || lost > 0)) {
      this.onLoss({
        link: this.id,
        epoch: e.number,
        reason: e.ended.reason,
        event: e.ended.event,
        handed: e.handed,
        reported: e.reported,
        received: e.received,
        lost,
      });
    }
    e.pending.clear();
  }

  /** Drops finished epochs before the receiving one (memory stays flat over long runs). */
  private prune(): void {
    let k = 0;
    while (k < this.rx && this.epochs[k]!.finished) k++;
    if (k > 0) {
      this.epochs.splice(0, k);
      this.rx -= k;
    }
  }
}

const hex2 = (b: number) => b.toString(16).padStart(2, '0');
export const hexBytes = (bytes: ArrayLike<number>): string => Array.from(bytes, (b) => hex2(b)).join(' ');
