// A loopback run: writes a known pattern and checks every byte that comes back, in order. A
// byte that differs, a line error, or no progress for STALL_MS fails the run with where it stopped.

const CHUNK = 4096;
const STALL_MS = 5000;

export interface LoopbackOutcome {
  ok: boolean;
  message: string;
  bytes: number;
  seconds: number;
}

/** Byte i of the pattern: a 251-periodic sequence, so a dropped or repeated chunk shows. */
export function patternByte(i: number): number {
  return (i * 7 + (i >> 8)) % 251;
}

export class LoopbackRun {
  #received = 0;
  #failure: string | null = null;
  #done: (() => void) | null = null;
  #lastProgress = 0;
  active = true;

  constructor(
    readonly total: number,
    private readonly onProgress: (received: number) => void,
  ) {}

  received(bytes: Uint8Array): void {
    if (!this.active || this.#failure) return;
    for (let k = 0; k < bytes.length; k++) {
      if (this.#received >= this.total) {
        this.#fail(`${bytes.length - k} bytes more than were sent arrived`);
        return;
      }
      if (bytes[k] !== patternByte(this.#received)) {
        this.#fail(`byte ${this.#received.toLocaleString('en-US')} is 0x${bytes[k]!.toString(16).padStart(2, '0')}, expected 0x${patternByte(this.#received).toString(16).padStart(2, '0')}`);
        return;
      }
      this.#received++;
    }
    this.#lastProgress = performance.now();
    this.onProgress(this.#received);
    if (this.#received === this.total) this.#done?.();
  }

  lineError(name: string): void {
    this.#fail(`${name} after ${this.#received.toLocaleString('en-US')} bytes`);
  }

  abort(why: string): void {
    this.#fail(why);
  }

  #fail(why: string): void {
    if (this.#failure || !this.active) return;
    this.#failure = why;
    this.#done?.();
  }

  async run(write: (chunk: Uint8Array) => Promise<void>): Promise<LoopbackOutcome> {
    const t0 = performance.now();
    this.#lastProgress = t0;
    const finished = new Promise<void>((resolve) => { this.#done = resolve; });
    const stall = setInterval(() => {
      if (performance.now() - this.#lastProgress > STALL_MS) this.#fail(`nothing came back for ${STALL_MS / 1000} s`);
    }, 250);
    const writing = (async () => {
      for (let off = 0; off < this.total && !this.#failure; off += CHUNK) {
        const n = Math.min(CHUNK, this.total - off);
        const chunk = new Uint8Array(n);
        for (let k = 0; k < n; k++) chunk[k] = patternByte(off + k);
        await write(chunk);
        this.#lastProgress = Math.max(this.#lastProgress, performance.now());
      }
    })().catch((err: unknown) => this.#fail(`write failed: ${(err as Error).message}`));
    await finished;
    clearInterval(stall);
    await writing;
    this.active = false;
    const seconds = (performance.now() - t0) / 1000;
    if (this.#failure) {
      return { ok: false, bytes: this.#received, seconds, message: `Failed at ${this.#received.toLocaleString('en-US')} of ${this.total.toLocaleString('en-US')} bytes: ${this.#failure}` };
    }
    const rate = this.total / seconds;
    const rateText = rate >= 1024 * 1024 ? `${(rate / 1024 / 1024).toFixed(2)} MiB/s` : `${(rate / 1024).toFixed(1)} KiB/s`;
    return { ok: true, bytes: this.total, seconds, message: `${this.total.toLocaleString('en-US')} bytes byte-exact in ${seconds.toFixed(2)} s (${rateText})` };
  }
}
