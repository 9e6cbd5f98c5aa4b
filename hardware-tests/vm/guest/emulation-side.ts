// The emulation's side of a gadget bridge (guest/functionfs-bridge.ts): what does not depend on
// the kernel interface that presents the device. Plugs an emulated MockUsbDevice in as its own
// host would, reads its descriptors, answers a delegated control request from it, and pumps one
// endpoint between a gadget endpoint file and the emulation's transferIn/transferOut.
//
// Every read and write of a gadget file blocks, so each goes through libuv's thread pool
// (UV_THREADPOOL_SIZE must cover ep0 + every endpoint pump + whatever else the process does).
import { read, readv, write, writev } from 'node:fs';
import type { MockUsbDevice } from '../../../mocks/device.ts';

export class BridgeError extends Error {
  override readonly name = 'BridgeError';
}

// ---- blocking gadget files, through the thread pool ----

export const readAsync = (fd: number, buf: Buffer, len = buf.length) =>
  new Promise<number>((res, rej) => read(fd, buf, 0, len, null, (err, n) => (err ? rej(err) : res(n))));
/**
 * A read(2) of 0 bytes (the status-stage ack of a request without data). fs.read() returns at
 * once for length 0 without a syscall; readv with one empty buffer does make it.
 */
export const emptyReadAsync = (fd: number) =>
  new Promise<number>((res, rej) => readv(fd, [Buffer.alloc(0)], null, (err, n) => (err ? rej(err) : res(n))));
/** A write(2) of 0 bytes (a zero-length packet on an IN endpoint; a stall on ep0 when none is due). */
export const emptyWriteAsync = (fd: number) =>
  new Promise<number>((res, rej) => writev(fd, [Buffer.alloc(0)], null, (err, n) => (err ? rej(err) : res(n))));
export const writeAsync = (fd: number, buf: Uint8Array) =>
  buf.length === 0
    ? emptyWriteAsync(fd)
    : new Promise<number>((res, rej) => write(fd, buf, 0, buf.length, null, (err, n) => (err ? rej(err) : res(n))));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (n: number, w = 2) => n.toString(16).padStart(w, '0');

// ---- the log every bridge keeps ----

export interface BridgeSetup {
  bmRequestType: number;
  bRequest: number;
  wValue: number;
  wIndex: number;
  wLength: number;
  /** The OUT data stage (hex), when there was one. */
  data?: string;
  /** What the bridge answered: the IN data (hex), 'ack', 'stall', or 'error: ...'. */
  reply: string;
  /** ms (performance.now()) the SETUP event was read, and the answer (data/ack/stall) completed. */
  seenMs: number;
  answeredMs?: number;
}

export interface BridgeLog {
  setups: BridgeSetup[];
  events: string[];
  errors: string[];
}

/** p50/p90/max of event seen → answered over the logged requests (ms, 0.1 ms resolution). */
export function latencySummary(setups: readonly BridgeSetup[]): { count: number; p50: number; p90: number; max: number } {
  const d = setups.filter((s) => s.answeredMs !== undefined).map((s) => s.answeredMs! - s.seenMs).sort((a, b) => a - b);
  const at = (q: number) => (d.length ? Math.round(d[Math.min(d.length - 1, Math.floor(q * d.length))]! * 10) / 10 : 0);
  return { count: d.length, p50: at(0.5), p90: at(0.9), max: d.length ? Math.round(d[d.length - 1]! * 10) / 10 : 0 };
}

/** One logged request as a line: `21/20 v0000 i0000 l7 [00c2010000000008]: ack`. */
export function formatSetup(s: BridgeSetup): string {
  return `${hex(s.bmRequestType)}/${hex(s.bRequest)} v${hex(s.wValue, 4)} i${hex(s.wIndex, 4)} l${s.wLength}${s.data ? ` [${s.data}]` : ''}: ${s.reply}`;
}

// ---- the emulation as a device ----

export interface EmulationDescriptors {
  device: Uint8Array;
  /** The whole configuration descriptor set (configuration, interfaces, endpoints, class descriptors). */
  config: Uint8Array;
  /** Everything after the 9-byte configuration descriptor, in order. */
  body: Uint8Array[];
  /** The endpoint descriptors, in descriptor order. */
  endpoints: Uint8Array[];
}

async function getDescriptor(mock: MockUsbDevice, type: number, index: number, length: number, langId = 0): Promise<Uint8Array | undefined> {
  const r = await mock.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 6, value: (type << 8) | index, index: langId }, length);
  if (r.status !== 'ok' || !r.data) return undefined;
  return new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
}

/** A string descriptor of the emulation, as text (US English), or undefined when it has none. */
export async function emulationString(mock: MockUsbDevice, index: number): Promise<string | undefined> {
  if (!index) return undefined;
  const d = await getDescriptor(mock, 3, index, 255, 0x0409);
  if (!d || d.length < 2) return undefined;
  return Buffer.from(d.subarray(2, d[0])).toString('utf16le');
}

/**
 * Plugs the emulation in as its host would (no kernel driver claims, no transfer limit), opens
 * it, selects its configuration and claims its interfaces; returns its descriptors.
 */
export async function attachEmulation(mock: MockUsbDevice): Promise<EmulationDescriptors> {
  mock._connect({ unplug: () => undefined, inFlightLimit: undefined, claimBlocked: () => undefined, configureAtPlug: false });
  await mock.open();
  const device = await getDescriptor(mock, 1, 0, 18);
  const head = await getDescriptor(mock, 2, 0, 9);
  if (!device || !head) throw new BridgeError('the emulation did not give its device/configuration descriptor');
  const config = await getDescriptor(mock, 2, 0, head[2]! | (head[3]! << 8));
  if (!config) throw new BridgeError('the emulation did not give its configuration descriptor set');
  await mock.selectConfiguration(config[5]!);
  for (const iface of mock.configuration?.interfaces ?? []) await mock.claimInterface(iface.interfaceNumber);
  const body: Uint8Array[] = [];
  const endpoints: Uint8Array[] = [];
  for (let i = config[0]!; i < config.length && config[i]! > 0; i += config[i]!) {
    const d = config.subarray(i, i + config[i]!);
    body.push(d);
    if (d[1] === 5) endpoints.push(d);
  }
  return { device, config, body, endpoints };
}

export type SetupAnswer = { status: 'ok'; data?: Uint8Array } | { status: 'stall' };

/** A delegated control request answered by the emulation (OUT: with its data stage, if any). */
export async function emulationSetup(
  mock: MockUsbDevice,
  s: { bmRequestType: number; bRequest: number; wValue: number; wIndex: number; wLength: number },
  data?: Uint8Array<ArrayBuffer>,
): Promise<SetupAnswer> {
  const requestType = (['standard', 'class', 'vendor'] as const)[(s.bmRequestType >> 5) & 3] ?? 'vendor';
  const recipient = (['device', 'interface', 'endpoint', 'other'] as const)[s.bmRequestType & 0x1f] ?? 'device';
  const setup = { requestType, recipient, request: s.bRequest, value: s.wValue, index: s.wIndex };
  if (s.bmRequestType & 0x80) {
    const r = await mock.controlTransferIn(setup, s.wLength);
    if (r.status !== 'ok' || !r.data) return { status: 'stall' };
    return { status: 'ok', data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength) };
  }
  const r = await mock.controlTransferOut(setup, data ?? new Uint8Array(0));
  return r.status === 'ok' ? { status: 'ok' } : { status: 'stall' };
}

/**
 * Pumps one endpoint between a gadget endpoint file and the emulation until `running()` is false.
 * IN: each packet (or zero-length packet) the emulation gives is one write. OUT: one packet per
 * read: a longer read completes only on a short packet, and a host write of whole packets
 * (256 bytes = 4 x 64) has none, so its tail would wait in the request for the next write.
 */
export function pumpEndpoint(opts: {
  mock: MockUsbDevice;
  fd: number;
  /** The emulation's endpoint descriptor (its address, not the one the UDC gave). */
  descriptor: Uint8Array;
  label: string;
  log: BridgeLog;
  running: () => boolean;
}): void {
  const { mock, fd, descriptor: d, label, log, running } = opts;
  const num = d[2]! & 0x0f;
  const packet = d[4]! | (d[5]! << 8);
  if (d[2]! & 0x80) {
    void (async () => {
      while (running()) {
        const r = await mock.transferIn(num, packet).catch((e: Error) => e);
        if (r instanceof Error || r.status !== 'ok' || !r.data) {
          if (!running()) return;
          await sleep(5);
          continue;
        }
        const bytes = new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
        await writeAsync(fd, bytes).catch((e: Error) => running() && log.errors.push(`${label} write: ${e.message}`));
      }
    })();
  } else {
    void (async () => {
      const buf = Buffer.alloc(packet);
      while (running()) {
        const n = await readAsync(fd, buf).catch((e: NodeJS.ErrnoException) => {
          // ESHUTDOWN: the function is disabled for the moment (the host reset or reconfigured the
          // device, as a driver taking the interface over does); FunctionFS enables the endpoint
          // again with the next configuration, so this is an event, not a lost transfer.
          if (e.code === 'ESHUTDOWN') log.events.push(`${label} read: endpoint disabled (ESHUTDOWN)`);
          else if (running()) log.errors.push(`${label} read: ${e.message}`);
          return -1;
        });
        if (n < 0) {
          await sleep(5);
          continue;
        }
        await mock.transferOut(num, Uint8Array.from(buf.subarray(0, n))).catch((e: Error) => log.errors.push(`${label} → emulation: ${e.message}`));
      }
    })();
  }
}
