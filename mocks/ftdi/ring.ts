// A bounded byte FIFO with one flag byte per data byte: the emulated chip's receive buffer,
// holding bytes from the line (and their line-status error bits) until the host reads them.

/** Free slots always hold flag 0, so clean bytes are stored without touching the flags. */
export class FlaggedRing {
  private readonly data: Uint8Array;
  private readonly flags: Uint8Array;
  private head = 0;
  private size = 0;
  /** Bytes in the ring whose flag is not 0 (lets the common, clean case skip a scan). */
  private flaggedCount = 0;

  constructor(readonly capacity: number) {
    this.data = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  get count(): number {
    return this.size;
  }

  get space(): number {
    return this.capacity - this.size;
  }

  /** Appends `bytes[from..from+n)` as clean bytes (the caller checked the space). */
  pushClean(bytes: Uint8Array, from = 0, n = bytes.length - from): void {
    const cap = this.capacity;
    let tail = (this.head + this.size) % cap;
    let at = from;
    const end = from + n;
    while (at < end) {
      const k = Math.min(end - at, cap - tail);
      copyInto(this.data, tail, bytes, at, k);
      at += k;
      tail = (tail + k) % cap;
    }
    this.size += n;
  }

  push(byte: number, flag: number): void {
    const at = (this.head + this.size) % this.capacity;
    this.data[at] = byte;
    this.flags[at] = flag;
    if (flag) this.flaggedCount++;
    this.size++;
  }

  /** Index (from the head) of the first flagged byte among the first `n`, or -1. */
  firstFlagged(n: number): number {
    if (this.flaggedCount === 0) return -1;
    for (let i = 0; i < n && i < this.size; i++) {
      if (this.flags[(this.head + i) % this.capacity]) return i;
    }
    return -1;
  }

  flagAt(i: number): number {
    return this.flags[(this.head + i) % this.capacity];
  }

  /** Moves `n` bytes into `out` at `offset`. */
  take(n: number, out: Uint8Array, offset: number): void {
    const cap = this.capacity;
    let left = n;
    let to = offset;
    while (left > 0) {
      const k = Math.min(left, cap - this.head);
      copyInto(out, to, this.data, this.head, k);
      if (this.flaggedCount > 0) {
        for (let i = this.head; i < this.head + k; i++) {
          if (this.flags[i]) {
            this.flaggedCount--;
            this.flags[i] = 0;
          }
        }
      }
      this.head = (this.head + k) % cap;
      this.size -= k;
      to += k;
      left -= k;
    }
    if (this.size === 0) this.head = 0;
  }

  clear(): void {
    if (this.flaggedCount > 0) this.flags.fill(0);
    this.head = 0;
    this.size = 0;
    this.flaggedCount = 0;
  }
}

/**
 * dst[to..to+n) = src[from..from+n). Packet-sized runs go by a plain loop: for them a subarray
 * view (an object per call) costs more than the copy itself.
 */
export function copyInto(dst: Uint8Array, to: number, src: Uint8Array, from: number, n: number): void {
  if (n > 256) {
    dst.set(src.subarray(from, from + n), to);
    return;
  }
  for (let i = 0; i < n; i++) dst[to + i] = src[from + i]!;
}
