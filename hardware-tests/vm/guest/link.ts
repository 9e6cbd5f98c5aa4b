// The guest job's side of the control channel (see ../channel.ts): /dev/hvc0, a virtio console
// the runner connects to the host test. A tty, so libuv polls it like a socket (a plain char
// device would tie up a thread-pool thread per read and keep the process alive).
import { openSync, writeFileSync, existsSync } from 'node:fs';
import { ReadStream, WriteStream } from 'node:tty';
import { Channel } from '../channel.ts';

export const IN_VM = process.env.USB_HARNESS_IN_VM === '1';
const DEVICE = '/dev/hvc0';

export interface HostLink {
  readonly channel: Channel;
  /** Asks the host to device_add a device declared in withGuest({ devices }). */
  plug(id: string): Promise<void>;
  /** Asks the host to device_del it; resolves once QEMU deleted it (the guest kernel notices right after). */
  unplug(id: string): Promise<void>;
  /** Tells the host something (the host waits with guest.channel.next(name)). */
  emit(name: string, data?: unknown): void;
  /** Waits for an event from the host. */
  next<T = unknown>(name: string, timeoutMs?: number): Promise<T>;
  request<T = unknown>(op: string, args?: unknown): Promise<T>;
  /** Lets the process exit (the tty handles are the only thing this keeps open). */
  close(): void;
}

let link: HostLink | undefined;

/** Opens the control channel to the host test (once per process). */
export function hostLink(): HostLink {
  if (link) return link;
  if (!existsSync(DEVICE)) throw new Error(`${DEVICE} missing: not in a VM guest started by hardware-tests/vm/runner.ts`);
  const input = new ReadStream(openSync(DEVICE, 'r+'));
  input.setRawMode(true); // no echo, no line editing, no CR/LF mangling
  const output = new WriteStream(openSync(DEVICE, 'r+'));
  const channel = new Channel((line) => output.write(line));
  input.setEncoding('utf8');
  input.on('data', (s: string) => channel.receive(s));
  link = {
    channel,
    plug: (id) => channel.request('plug', { id }),
    unplug: (id) => channel.request('unplug', { id }),
    emit: (name, data) => channel.emit(name, data),
    next: (name, timeoutMs) => channel.next(name, timeoutMs),
    request: (op, args) => channel.request(op, args),
    close() {
      channel.close('guest link closed');
      input.destroy();
      output.destroy();
      link = undefined;
    },
  };
  return link;
}

/** What withGuest returns as `result` (JSON). */
export function writeResult(result: unknown): void {
  writeFileSync('/vmjob/result.json', JSON.stringify(result, null, 1));
}
