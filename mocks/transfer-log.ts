// The transfer log every mock device keeps: a bounded ring, so a 100,000-cycle stress run keeps
// only the newest entries (the count of dropped ones says how many went).

export type TransferKind =
  | 'control-in'
  | 'control-out'
  | 'bulk-in'
  | 'bulk-out'
  | 'interrupt-in'
  | 'interrupt-out';

export interface SetupFields {
  readonly bmRequestType: number;
  readonly bRequest: number;
  readonly wValue: number;
  readonly wIndex: number;
  readonly wLength: number;
}

/** One transfer. Entries are written at submission and completed in place. */
export interface TransferLogEntry {
  /** 1, 2, 3, ... per device, never reused (also across clear()). */
  readonly seq: number;
  readonly kind: TransferKind;
  /** Endpoint address with the direction bit (0x00 / 0x80 for control). */
  readonly endpoint: number;
  readonly setup?: SetupFields;
  /** IN: bytes asked for. */
  readonly length?: number;
  /** OUT: data sent; IN: data received (absent while pending, or when data capture is off). */
  data?: Uint8Array;
  /** Bytes moved, also when data capture is off. */
  bytes?: number;
  /** Set when the transfer resolved. */
  status?: USBTransferStatus;
  /** Set when the transfer rejected. */
  error?: { readonly name: string; readonly message: string };
  /** The injected fault that hit it, if any. */
  fault?: string;
  /** performance.now() at submission and at completion. */
  readonly start: number;
  end?: number;
}

export interface TransferLogOptions {
  /** Entries kept (newest win). Default 10,000; Infinity keeps everything. */
  limit?: number;
  /** Copy the data of each transfer into the log. Default true. */
  captureData?: boolean;
}

export class TransferLog {
  private ring: TransferLogEntry[] = [];
  private head = 0;
  private seq = 0;
  private droppedCount = 0;
  private max: number;
  /** Copy transfer data into entries (off: only byte counts). */
  captureData: boolean;

  constructor(options: TransferLogOptions = {}) {
    this.max = TransferLog.checkLimit(options.limit ?? 10_000);
    this.captureData = options.captureData ?? true;
  }

  /** Entries kept; lowering it drops the oldest at once (0 turns logging off). */
  get limit(): number {
    return this.max;
  }

  set limit(n: number) {
    this.max = TransferLog.checkLimit(n);
    const all = this.entries();
    const keep = n === Infinity ? all : all.slice(Math.max(0, all.length - n));
    this.droppedCount += all.length - keep.length;
    this.ring = keep;
    this.head = 0;
  }

  private static checkLimit(n: number): number {
    if (!(n >= 0)) throw new RangeError(`transfer log limit must be >= 0, got ${n}`);
    return n;
  }

  /** @internal Adds an entry for a transfer being submitted and returns it for completion. */
  open(fields: Omit<TransferLogEntry, 'seq' | 'start'>): TransferLogEntry {
    const entry: TransferLogEntry = { seq: ++this.seq, start: performance.now(), ...fields };
    if (this.max === 0) {
      this.droppedCount++;
      return entry;
    }
    if (this.ring.length < this.max) {
      this.ring.push(entry);
    } else {
      this.ring[this.head] = entry;
      this.head = (this.head + 1) % this.ring.length;
      this.droppedCount++;
    }
    return entry;
  }

  /** Entries oldest first (a copy). */
  entries(): TransferLogEntry[] {
    return this.head === 0 ? [...this.ring] : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
  }

  get size(): number {
    return this.ring.length;
  }

  /** Entries pushed out by the limit (or by a limit of 0) since the last clear. */
  get dropped(): number {
    return this.droppedCount;
  }

  clear(): void {
    this.ring = [];
    this.head = 0;
    this.droppedCount = 0;
  }
}
