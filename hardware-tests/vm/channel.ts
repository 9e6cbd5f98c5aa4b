// The control channel between the host test and the guest job: JSON lines over a virtio console
// (/dev/hvc0 in the guest, a unix socket on the host). Either side sends events and requests;
// requests are answered by the other side's handlers. The host handles plug/unplug/qmp for the
// guest (the guest cannot reach QMP); the guest tells the host when it is ready for the next step.

export type ChannelMessage =
  | { t: 'event'; name: string; data?: unknown }
  | { t: 'req'; id: number; op: string; args?: unknown }
  | { t: 'res'; id: number; ok: true; value?: unknown }
  | { t: 'res'; id: number; ok: false; error: string };

export type RequestHandler = (args: unknown) => unknown;

/** A request the other side answered with an error. */
export class ChannelRequestError extends Error {
  override readonly name = 'ChannelRequestError';
  constructor(
    readonly op: string,
    detail: string,
  ) {
    super(`request '${op}' failed on the other side: ${detail}`);
  }
}

export class ChannelClosedError extends Error {
  override readonly name = 'ChannelClosedError';
}

export class Channel {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, { op: string; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly events: { name: string; data?: unknown }[] = [];
  private readonly cursors = new Map<string, number>();
  private readonly waiters = new Set<{ name: string; resolve: (d: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;

  constructor(private readonly write: (line: string) => void) {}

  /** Feed received text (any chunking). */
  receive(text: string): void {
    this.buf += text;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '').trim();
      this.buf = this.buf.slice(nl + 1);
      // A tty may echo or add noise before the first message: only JSON objects count.
      if (!line.startsWith('{')) continue;
      let msg: ChannelMessage;
      try {
        msg = JSON.parse(line) as ChannelMessage;
      } catch {
        continue;
      }
      this.dispatch(msg);
    }
  }

  handle(op: string, fn: RequestHandler): void {
    this.handlers.set(op, fn);
  }

  emit(name: string, data?: unknown): void {
    this.send({ t: 'event', name, data });
  }

  request<T = unknown>(op: string, args?: unknown): Promise<T> {
    if (this.closed) return Promise.reject(new ChannelClosedError(`control channel closed (request '${op}')`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { op, resolve: resolve as (v: unknown) => void, reject });
      this.send({ t: 'req', id, op, args });
    });
  }

  /**
   * The next event of that name not yet consumed by next() (events are queued, so one sent
   * before the wait began is not lost).
   */
  next<T = unknown>(name: string, timeoutMs = 60_000): Promise<T> {
    const from = this.cursors.get(name) ?? 0;
    const idx = this.events.findIndex((e, i) => i >= from && e.name === name);
    if (idx >= 0) {
      this.cursors.set(name, idx + 1);
      return Promise.resolve(this.events[idx]!.data as T);
    }
    if (this.closed) return Promise.reject(new ChannelClosedError(`control channel closed while waiting for '${name}'`));
    return new Promise<T>((resolve, reject) => {
      const w = {
        name,
        resolve: (d: unknown) => {
          clearTimeout(timer);
          resolve(d as T);
        },
        reject,
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`no '${name}' event from the other side within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  close(reason = 'control channel closed'): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new ChannelClosedError(`${reason} (request '${p.op}' unanswered)`));
    this.pending.clear();
    for (const w of this.waiters) w.reject(new ChannelClosedError(`${reason} while waiting for '${w.name}'`));
    this.waiters.clear();
  }

  private send(msg: ChannelMessage): void {
    if (this.closed) return;
    this.write(JSON.stringify(msg) + '\n');
  }

  private dispatch(msg: ChannelMessage): void {
    if (msg.t === 'event') {
      this.events.push({ name: msg.name, data: msg.data });
      for (const w of [...this.waiters]) {
        if (w.name === msg.name) {
          this.waiters.delete(w);
          this.cursors.set(msg.name, this.events.length);
          w.resolve(msg.data);
          break;
        }
      }
    } else if (msg.t === 'req') {
      const fn = this.handlers.get(msg.op);
      if (!fn) {
        this.send({ t: 'res', id: msg.id, ok: false, error: `no handler for '${msg.op}'` });
        return;
      }
      Promise.resolve()
        .then(() => fn(msg.args))
        .then(
          (value) => this.send({ t: 'res', id: msg.id, ok: true, value }),
          (err: unknown) => this.send({ t: 'res', id: msg.id, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
        );
    } else if (msg.t === 'res') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new ChannelRequestError(p.op, msg.error));
    }
  }
}
