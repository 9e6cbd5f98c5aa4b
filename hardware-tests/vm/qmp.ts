// A small QMP client (QEMU Machine Protocol: JSON lines over a unix socket), enough for hotplug:
// execute commands one at a time and wait for events such as DEVICE_DELETED.
import { connect, type Socket } from 'node:net';

export class QmpError extends Error {
  override readonly name = 'QmpError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
  }
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

type Pending = { command: string; resolve: (v: unknown) => void; reject: (e: Error) => void };

export class QmpClient {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly events: QmpEvent[] = [];
  private readonly waiters = new Set<{ pred: (e: QmpEvent) => boolean; resolve: (e: QmpEvent) => void }>();
  private closed = false;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('close', () => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new Error(`QMP connection closed during ${p.command}`));
      this.pending.clear();
    });
    sock.on('error', () => undefined); // 'close' follows and rejects what is pending
  }

  /** Connects (retrying while QEMU creates the socket) and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const client = new QmpClient(sock);
        await client.execute('qmp_capabilities');
        return client;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`QMP socket ${path}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`QMP connection closed (${command})`));
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  /** The next event matching (including ones already received since `since`, an index from eventCount). */
  waitEvent(pred: (e: QmpEvent) => boolean, timeoutMs: number, since = 0, what = 'QMP event'): Promise<QmpEvent> {
    const seen = this.events.slice(since).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (e: QmpEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${what}: nothing after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  get eventCount(): number {
    return this.events.length;
  }

  close(): void {
    this.closed = true;
    this.sock.destroy();
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('QMP' in msg) continue; // greeting
      if (typeof msg.event === 'string') {
        const ev = msg as unknown as QmpEvent;
        this.events.push(ev);
        for (const w of [...this.waiters]) {
          if (w.pred(ev)) {
            this.waiters.delete(w);
            w.resolve(ev);
          }
        }
        continue;
      }
      const id = String(msg.id ?? '');
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      if ('error' in msg) {
        const e = msg.error as { class?: string; desc?: string };
        p.reject(new QmpError(p.command, e.class ?? 'Error', e.desc ?? JSON.stringify(e)));
      } else {
        p.resolve(msg.return);
      }
    }
  }
}
