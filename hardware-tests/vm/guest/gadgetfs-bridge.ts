// Part C, first step: present an emulated device from mocks/ (any MockUsbDevice) to the guest
// kernel as real hardware, through dummy_hcd + gadgetfs. The kernel enumerates it on the dummy
// host controller; its own drivers (ftdi_sio, pl2303) bind it; each control request gadgetfs
// delegates (everything but GET_DESCRIPTOR/SET_CONFIGURATION/GET_CONFIGURATION) is answered by
// the emulation, and the bulk endpoints are pumped between gadgetfs's endpoint files and the
// emulation's transferIn/transferOut.
//
// gadgetfs (drivers/usb/gadget/legacy/inode.c): write tag 0 + full-speed config + device
// descriptor to /dev/gadget/<udc>; read 12-byte events from it (SETUP carries the 8-byte setup
// packet); for a delegated request write the IN data, or read the OUT data (a 0-byte read acks a
// request without data); reading when data is due (or writing when none is) stalls. Endpoints:
// write tag 1 + the endpoint descriptor (twice: full and high speed) to /dev/gadget/epN{in,out}-*,
// then read/write transfers. Every read and write blocks, so each runs on libuv's thread pool
// (UV_THREADPOOL_SIZE must cover ep0 + every endpoint pump).
// The main thread must never block meanwhile: reading a USB device's string attributes in sysfs
// (serial, product, manufacturer) takes that device's lock, which the hub thread holds while it
// enumerates a child; reading the dummy root hub's `serial` during enumeration stalled this
// bridge's event loop until the kernel's control requests had timed out.
import { execSync } from 'node:child_process';
import { openSync, read, readv, write, writev, closeSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import type { MockUsbDevice } from '../../../mocks/device.ts';

const GADGETFS_DIR = '/dev/gadget';
/** Kernel uptime, to line the bridge's log up with dmesg. */
const uptime = () => readFileSync('/proc/uptime', 'utf8').split(' ')[0];
const EVENT_SIZE = 12;
const EV = { NOP: 0, CONNECT: 1, DISCONNECT: 2, SETUP: 3, SUSPEND: 4 } as const;

export class GadgetfsError extends Error {
  override readonly name = 'GadgetfsError';
}

const readAsync = (fd: number, buf: Buffer, len = buf.length) =>
  new Promise<number>((res, rej) => read(fd, buf, 0, len, null, (err, n) => (err ? rej(err) : res(n))));
/**
 * The status-stage ack of a request without data: a read of 0 bytes. fs.read() returns at once
 * for length 0 without a syscall; readv with one empty buffer does make the read(2).
 */
const ackAsync = (fd: number) => new Promise<number>((res, rej) => readv(fd, [Buffer.alloc(0)], null, (err, n) => (err ? rej(err) : res(n))));
/** A write of 0 bytes (stalls an OUT request without data); fs.write() may skip the syscall. */
const emptyWriteAsync = (fd: number) => new Promise<number>((res, rej) => writev(fd, [Buffer.alloc(0)], null, (err, n) => (err ? rej(err) : res(n))));
const writeAsync = (fd: number, buf: Uint8Array) =>
  new Promise<number>((res, rej) => write(fd, buf, 0, buf.length, null, (err, n) => (err ? rej(err) : res(n))));

/** Loads dummy_hcd (full speed: FTDI and PL2303 parts are full-speed devices) and mounts gadgetfs. */
export function setupGadgetfs(): string {
  execSync('modprobe dummy_hcd is_high_speed=0 is_super_speed=0 && modprobe gadgetfs');
  if (!existsSync(GADGETFS_DIR)) execSync(`mkdir -p ${GADGETFS_DIR} && mount -t gadgetfs gadgetfs ${GADGETFS_DIR}`);
  const udc = execSync(`ls ${GADGETFS_DIR}`).toString().split(/\s+/).find((n) => n.startsWith('dummy_udc'));
  if (!udc) throw new GadgetfsError(`no dummy_udc in ${GADGETFS_DIR}`);
  return `${GADGETFS_DIR}/${udc}`;
}

export interface BridgeLog {
  setups: { bmRequestType: number; bRequest: number; wValue: number; wIndex: number; wLength: number; reply: string }[];
  events: string[];
  errors: string[];
}

async function getDescriptor(mock: MockUsbDevice, type: number, length: number): Promise<Uint8Array> {
  const r = await mock.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 6, value: type << 8, index: 0 }, length);
  if (r.status !== 'ok' || !r.data) throw new GadgetfsError(`the emulation did not give descriptor type ${type}`);
  return new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
}

/** Starts the bridge; resolves once gadgetfs took the descriptors (the kernel then enumerates). */
export async function bridgeMock(mock: MockUsbDevice, udcPath: string): Promise<{ log: BridgeLog; stop(): void }> {
  const log: BridgeLog = { setups: [], events: [], errors: [] };
  // The bridge is the emulation's host: plug it in as MockUsbHost would (no kernel driver claims,
  // no transfer limit; the real host's SET_CONFIGURATION arrives through gadgetfs).
  mock._connect({ unplug: () => undefined, inFlightLimit: undefined, claimBlocked: () => undefined, configureAtPlug: false });
  await mock.open();
  const device = await getDescriptor(mock, 1, 18);
  const head = await getDescriptor(mock, 2, 9);
  const config = await getDescriptor(mock, 2, head[2]! | (head[3]! << 8));
  await mock.selectConfiguration(config[5]!);
  // gadgetfs refuses a configuration with remote wakeup (is_valid_config); FTDI parts report
  // bmAttributes 0xa0. The copy given to gadgetfs drops the bit (the only deviation).
  const gadgetConfig = Uint8Array.from(config);
  if (gadgetConfig[7]! & 0x20) {
    gadgetConfig[7]! &= ~0x20;
    log.events.push(`bmAttributes 0x${config[7]!.toString(16)} → 0x${gadgetConfig[7]!.toString(16)} (gadgetfs takes no remote wakeup)`);
  }
  const ep0 = openSync(udcPath, 'r+');
  const tag0 = Buffer.alloc(4);
  await writeAsync(ep0, Buffer.concat([tag0, gadgetConfig, device]));
  let running = true;
  const endpointFds: number[] = [];

  // Endpoint descriptors of interface 0 (alt 0), parsed from the configuration descriptor.
  const endpoints: Uint8Array[] = [];
  for (let i = 0; i < config.length; i += config[i]!) {
    if (config[i + 1] === 5) endpoints.push(config.subarray(i, i + 7));
  }
  for (const iface of mock.configuration?.interfaces ?? []) await mock.claimInterface(iface.interfaceNumber);

  // The UDC's endpoint files (dummy_udc: ep1in-bulk, ep2out-bulk, ep3in-iso, ep5in-int, ...).
  // Any of them can carry any address (dummy_hcd routes by the descriptor's address); what
  // matters is direction and type: bulk needs a -bulk file, interrupt a -int or -bulk one.
  const pool = readdirSync(GADGETFS_DIR).filter((n) => /^ep\d+(in|out)-(bulk|int|iso)$/.test(n));
  const pick = (dirIn: boolean, type: number): string | undefined => {
    const dir = dirIn ? 'in' : 'out';
    const suffixes = type === 3 ? ['-int', '-bulk'] : ['-bulk'];
    for (const suffix of suffixes) {
      const i = pool.findIndex((n) => n.includes(dir + suffix) && n.endsWith(suffix));
      if (i >= 0) return pool.splice(i, 1)[0];
    }
    return undefined;
  };

  const startEndpoints = async () => {
    for (const d of endpoints) {
      const address = d[2]!;
      const num = address & 0x0f;
      const dirIn = (address & 0x80) !== 0;
      const file = pick(dirIn, d[3]! & 3);
      if (!file) {
        log.errors.push(`no UDC endpoint file for 0x${address.toString(16)} (type ${d[3]! & 3})`);
        continue;
      }
      const path = `${GADGETFS_DIR}/${file}`;
      log.events.push(`0x${address.toString(16)} on ${file}`);
      let fd: number;
      try {
        fd = openSync(path, 'r+');
        const tag1 = Buffer.from([1, 0, 0, 0]);
        // full-speed and high-speed descriptors (the same: the UDC runs at full speed); done
        // before any transfer on the file (two thread-pool writes could otherwise swap).
        await writeAsync(fd, Buffer.concat([tag1, d, d]));
      } catch (err) {
        log.errors.push(`${path}: ${(err as Error).message}`);
        continue;
      }
      endpointFds.push(fd);
      const packet = d[4]! | (d[5]! << 8);
      if (dirIn) {
        void (async () => {
          while (running) {
            const r = await mock.transferIn(num, packet).catch((e: Error) => e);
            if (r instanceof Error || r.status !== 'ok' || !r.data) {
              if (!running) return;
              await new Promise((res) => setTimeout(res, 5));
              continue;
            }
            const bytes = new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
            await writeAsync(fd, bytes).catch((e: Error) => running && log.errors.push(`${path} write: ${e.message}`));
          }
        })();
      } else {
        void (async () => {
          // One packet per read: a longer OUT request completes only on a short packet, and a
          // host write of whole packets (256 bytes = 4 x 64) has none, so its tail would wait
          // in the request for the next write.
          const buf = Buffer.alloc(packet);
          while (running) {
            const n = await readAsync(fd, buf).catch((e: Error) => (running && log.errors.push(`${path} read: ${e.message}`), -1));
            if (n < 0) {
              await new Promise((res) => setTimeout(res, 5));
              continue;
            }
            await mock.transferOut(num, buf.subarray(0, n)).catch((e: Error) => log.errors.push(`${path} → emulation: ${e.message}`));
          }
        })();
      }
    }
  };

  // ep0: events and delegated control requests.
  void (async () => {
    const buf = Buffer.alloc(EVENT_SIZE * 8);
    let started = false;
    log.events.push(`ep0 reader starts at uptime ${uptime()} (UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'unset'})`);
    while (running) {
      const n = await readAsync(ep0, buf).catch((e: Error) => (running && log.errors.push(`ep0 read: ${e.message}`), -1));
      if (n < 0) {
        await new Promise((res) => setTimeout(res, 10));
        continue;
      }
      log.events.push(`read ${n} bytes at uptime ${uptime()}: ${buf.subarray(0, n).toString('hex')}`);
      for (let off = 0; off + EVENT_SIZE <= n; off += EVENT_SIZE) {
        const type = buf.readUInt32LE(off + 8);
        if (type !== EV.SETUP) {
          log.events.push(Object.entries(EV).find(([, v]) => v === type)?.[0] ?? `type ${type}`);
          continue;
        }
        const bmRequestType = buf[off]!;
        const bRequest = buf[off + 1]!;
        const wValue = buf.readUInt16LE(off + 2);
        const wIndex = buf.readUInt16LE(off + 4);
        const wLength = buf.readUInt16LE(off + 6);
        const entry = { bmRequestType, bRequest, wValue, wIndex, wLength, reply: '' };
        log.setups.push(entry);
        // SET_CONFIGURATION comes through too: that is when the endpoints can be enabled.
        if (bmRequestType === 0x00 && bRequest === 9) {
          entry.reply = 'ack (configured)';
          await ackAsync(ep0).catch((e: Error) => log.errors.push(`SET_CONFIGURATION ack: ${e.message}`));
          if (!started) {
            started = true;
            void startEndpoints().catch((e: Error) => log.errors.push(`endpoints: ${e.message}`));
          }
          continue;
        }
        const requestType = (['standard', 'class', 'vendor'] as const)[(bmRequestType >> 5) & 3] ?? 'vendor';
        const recipient = (['device', 'interface', 'endpoint', 'other'] as const)[bmRequestType & 0x1f] ?? 'device';
        const setup = { requestType, recipient, request: bRequest, value: wValue, index: wIndex };
        try {
          if (bmRequestType & 0x80) {
            const r = await mock.controlTransferIn(setup, wLength);
            if (r.status === 'ok' && r.data) {
              const bytes = new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
              entry.reply = Buffer.from(bytes).toString('hex');
              await writeAsync(ep0, bytes);
            } else {
              entry.reply = 'stall';
              await readAsync(ep0, Buffer.alloc(1), 1).catch(() => undefined); // a read when data is due stalls
            }
          } else {
            let data = new Uint8Array(0);
            if (wLength > 0) {
              const b = Buffer.alloc(wLength);
              const got = await readAsync(ep0, b);
              data = b.subarray(0, got);
            }
            const r = await mock.controlTransferOut(setup, data);
            if (r.status === 'ok') {
              entry.reply = 'ack';
              if (wLength === 0) await ackAsync(ep0).catch((e: Error) => log.errors.push(`ack: ${e.message}`));
            } else {
              entry.reply = 'stall';
              await emptyWriteAsync(ep0).catch(() => undefined); // a write when none is due stalls
            }
          }
        } catch (err) {
          entry.reply = `error: ${(err as Error).message}`;
          log.errors.push(`setup ${bmRequestType.toString(16)}/${bRequest.toString(16)}: ${(err as Error).message}`);
        }
      }
    }
  })();

  return {
    log,
    stop() {
      running = false;
      for (const fd of endpointFds) closeSync(fd);
      closeSync(ep0);
    },
  };
}
