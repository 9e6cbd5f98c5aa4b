// Part C: present an emulated device from mocks/ (any MockUsbDevice) to the guest kernel as real
// hardware, through dummy_hcd + a configfs gadget (libcomposite) with one FunctionFS function
// (usb_f_fs). The kernel enumerates it on the dummy host controller and its own drivers
// (ftdi_sio, pl2303) bind it; every control request composite does not answer itself (vendor and
// class requests) is answered by the emulation, in order; the endpoints are pumped between
// FunctionFS's endpoint files and the emulation (emulation-side.ts).
//
// Why FunctionFS and not gadgetfs: for a delegated OUT request with a data stage gadgetfs queues
// the data stage itself at once (inode.c, "read DATA stage for OUT right away"), so the host's
// control transfer completes before userspace has seen the request; the kernel's pl2303 sends its
// next request at once, and gadgetfs's next_event() drops the unread SETUP ("these events can't
// be repeated") or the data read fails with EIDRM. Every SET_LINE followed quickly by another
// request was lost that way. f_fs (ffs_func_setup) returns 0 for OUT-with-data and
// USB_GADGET_DELAYED_STATUS for requests without data, so the host's data/status stage waits
// until this bridge reads the data from ep0 or acks: each request reaches the emulation.
//
// The FunctionFS protocol (include/uapi/linux/usb/functionfs.h, drivers/usb/gadget/function/f_fs.c):
// - ep0: write the descriptors (V2: magic 3, length, flags, then a count per speed and the
//   descriptors), then the strings; ep1.. appear, in the order of the endpoint descriptors;
// - read ep0: 12-byte events (8-byte setup + type + 3 pad), at most 4 per read; after a SETUP
//   event, a write of ep0 is the IN data stage, a read the OUT data stage (wLength bytes) or, with
//   0 bytes, the status-stage ack of a request without data; a read for an IN request or a write
//   for an OUT request stalls (EL2HLT). An event read holds ffs->mutex while it waits, and a read
//   while a SETUP is pending is that SETUP's data stage: so ep0 is used strictly in turn.
// - FUNCTIONFS_ALL_CTRL_RECIP: device-recipient requests (PL2303's and FTDI's vendor requests
//   0x40/0xc0) reach the function too; interface-recipient ones get wIndex rewritten to the
//   function's interface index (0 here, the same as on the real single-interface chips).
//
// Deviations from the emulated device (recorded in the log's `deviations`):
// - composite writes bcdUSB 2.00 (a full-speed UDC without LPM) and bMaxPacketSize0 from the UDC
//   (64): PL2303 H/HX/HXD (bcdUSB 1.10) and H-8 (8-byte ep0) cannot be shown faithfully;
// - endpoint addresses come from the UDC's autoconfig (dummy_udc: ep1in-bulk, ep2out-bulk,
//   ep5in-int, ep6in-bulk, ...; an interrupt endpoint may take a bulk one), so they may differ
//   from the chip's: PL2303's 0x81 (interrupt), 0x02, 0x83 become 0x81, 0x02, 0x86 (FT232R's
//   0x81, 0x02 stay); the bridge maps each endpoint file back to the emulation's address;
// - string indices are composite's (manufacturer, product, serial number 1-3; interface strings
//   after them), with the same texts; a device without a serial number shows an empty one.
// The main thread must never block meanwhile: reading a USB device's string attributes in sysfs
// (serial, product) takes that device's lock, which the hub thread holds while it enumerates a
// child; a synchronous read there would stall this bridge until the kernel's requests timed out.
import { execSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { MockUsbDevice } from '../../../mocks/device.ts';
import {
  attachEmulation,
  BridgeError,
  emptyReadAsync,
  emptyWriteAsync,
  emulationSetup,
  emulationString,
  pumpEndpoint,
  readAsync,
  writeAsync,
  type BridgeLog,
  type BridgeSetup,
} from './emulation-side.ts';

export { latencySummary, formatSetup, type BridgeLog, type BridgeSetup } from './emulation-side.ts';

const CONFIGFS = '/sys/kernel/config';
const EVENT_SIZE = 12;
const EVENT_NAMES = ['BIND', 'UNBIND', 'ENABLE', 'DISABLE', 'SETUP', 'SUSPEND', 'RESUME'] as const;
const SETUP = 4;
const DESCRIPTORS_MAGIC_V2 = 3;
const STRINGS_MAGIC = 2;
const HAS_FS_DESC = 1;
const HAS_HS_DESC = 2;
const ALL_CTRL_RECIP = 64;

/** Kernel uptime (s), to line the bridge's log up with dmesg. */
const uptime = () => readFileSync('/proc/uptime', 'utf8').split(' ')[0];

export interface FfsBridgeLog extends BridgeLog {
  /** Where the presented device differs from the emulation's descriptors. */
  deviations: string[];
  /** Endpoint file → the emulation's endpoint address, in descriptor order. */
  endpointFiles: string[];
}

export interface FfsBridge {
  log: FfsBridgeLog;
  /** The UDC the gadget is bound to (dummy_udc.0). */
  udc: string;
  /** Unbinds the gadget (the kernel sees an unplug) and closes the files. */
  stop(): Promise<void>;
}

/**
 * Loads dummy_hcd (full speed: the USB-serial chips emulated here are full-speed devices; a job
 * that loaded it first with `num=N` gets N controllers), libcomposite and usb_f_fs; mounts
 * configfs. Returns the UDC asked for, or the first dummy_udc.
 */
export function setupFunctionfs(udc?: string): string {
  execSync('modprobe dummy_hcd is_high_speed=0 is_super_speed=0 && modprobe libcomposite && modprobe usb_f_fs');
  if (!existsSync(`${CONFIGFS}/usb_gadget`)) execSync(`mount -t configfs none ${CONFIGFS}`);
  const udcs = readdirSync('/sys/class/udc');
  const chosen = udc ? udcs.find((n) => n === udc) : udcs.filter((n) => n.startsWith('dummy_udc')).sort()[0];
  if (!chosen) throw new BridgeError(udc ? `no ${udc} in /sys/class/udc (there: ${udcs.join(', ') || 'none'})` : 'no dummy_udc in /sys/class/udc');
  return chosen;
}

export interface FfsBridgeOptions {
  /** The gadget's configfs name and FunctionFS mount (/dev/ffs-<name>); default 'emu'. */
  name?: string;
  /** The UDC to bind (default: the first dummy_udc). */
  udc?: string;
  /**
   * Leave out the class-specific descriptors (type 0x24: CDC functional descriptors), which
   * FunctionFS refuses (f_fs.c `ffs_do_single_desc`: EINVAL); recorded as a deviation. Without
   * this a device that has them cannot be bridged.
   */
  omitClassDescriptors?: boolean;
}

const u16 = (d: Uint8Array, at: number) => d[at]! | (d[at + 1]! << 8);
const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/**
 * Starts the bridge: the gadget is built from the emulation's descriptors and bound to the UDC;
 * resolves once bound (the kernel then enumerates the device on the dummy bus).
 */
export async function bridgeMockFfs(mock: MockUsbDevice, options: FfsBridgeOptions = {}): Promise<FfsBridge> {
  const name = options.name ?? 'emu';
  const udc = setupFunctionfs(options.udc);
  const log: FfsBridgeLog = { setups: [], events: [], errors: [], deviations: [], endpointFiles: [] };
  const { device, config, body: whole, endpoints } = await attachEmulation(mock);
  const classSpecific = whole.filter((d) => d[1] === 0x24);
  if (classSpecific.length && !options.omitClassDescriptors) {
    throw new BridgeError(`the emulation has ${classSpecific.length} class-specific descriptor(s) (type 0x24), which FunctionFS refuses; pass omitClassDescriptors to bridge it without them`);
  }
  const body = whole.filter((d) => d[1] !== 0x24);
  if (classSpecific.length) log.deviations.push(`${classSpecific.length} class-specific descriptor(s) left out (FunctionFS refuses type 0x24): ${classSpecific.map((d) => Buffer.from(d).toString('hex')).join(' ')}`);

  // ---- the gadget (configfs): device descriptor fields and strings from the emulation ----
  const g = `${CONFIGFS}/usb_gadget/${name}`;
  mkdirSync(g);
  const attr = (file: string, value: string) => writeFileSync(`${g}/${file}`, value);
  attr('idVendor', hex4(u16(device, 8)));
  attr('idProduct', hex4(u16(device, 10)));
  attr('bcdDevice', hex4(u16(device, 12)));
  attr('bcdUSB', hex4(u16(device, 2)));
  attr('bDeviceClass', String(device[4]));
  attr('bDeviceSubClass', String(device[5]));
  attr('bDeviceProtocol', String(device[6]));
  if (u16(device, 2) !== 0x0200) log.deviations.push(`bcdUSB ${hex4(u16(device, 2))} → 0x0200 (composite writes 2.00 for a full/high-speed UDC)`);
  if (device[7] !== 64) log.deviations.push(`bMaxPacketSize0 ${device[7]} → 64 (composite takes the UDC's ep0 size)`);
  const manufacturer = await emulationString(mock, device[14]!);
  const product = await emulationString(mock, device[15]!);
  const serial = await emulationString(mock, device[16]!);
  mkdirSync(`${g}/strings/0x409`);
  attr('strings/0x409/manufacturer', manufacturer ?? '');
  attr('strings/0x409/product', product ?? '');
  attr('strings/0x409/serialnumber', serial ?? '');
  for (const [what, index, text] of [['iManufacturer', device[14], manufacturer], ['iProduct', device[15], product], ['iSerialNumber', device[16], serial]] as const) {
    if (!index) log.deviations.push(`${what} 0 → a string index with an empty string (composite gives each gadget string an index)`);
    else if (text === undefined) log.deviations.push(`${what} ${index}: the emulation gave no string`);
  }
  const c = `${g}/configs/c.${config[5]}`;
  mkdirSync(c);
  try {
    writeFileSync(`${c}/bmAttributes`, `0x${config[7]!.toString(16)}`);
  } catch (err) {
    const plain = config[7]! & ~0x20;
    writeFileSync(`${c}/bmAttributes`, `0x${plain.toString(16)}`);
    log.deviations.push(`bmAttributes 0x${config[7]!.toString(16)} → 0x${plain.toString(16)} (configfs refused it: ${(err as Error).message})`);
  }
  writeFileSync(`${c}/MaxPower`, String(config[8]! * 2));
  const f = `${g}/functions/ffs.${name}`;
  mkdirSync(f);
  symlinkSync(f, `${c}/ffs.${name}`);
  const mnt = `/dev/ffs-${name}`;
  mkdirSync(mnt, { recursive: true });
  execSync(`mount -t functionfs ${name} ${mnt}`);

  // ---- FunctionFS descriptors: the configuration's body, the same for full and high speed ----
  const descs = Buffer.concat(body);
  const head = Buffer.alloc(20);
  head.writeUInt32LE(DESCRIPTORS_MAGIC_V2, 0);
  head.writeUInt32LE(20 + 2 * descs.length, 4);
  head.writeUInt32LE(HAS_FS_DESC | HAS_HS_DESC | ALL_CTRL_RECIP, 8);
  head.writeUInt32LE(body.length, 12);
  head.writeUInt32LE(body.length, 16);
  // Strings: FunctionFS needs every index the interface descriptors use (1..max), in one language.
  let maxString = 0;
  for (const d of body) if (d[1] === 4) maxString = Math.max(maxString, d[8]!);
  const texts: Buffer[] = [];
  for (let i = 1; i <= maxString; i++) texts.push(Buffer.from(`${(await emulationString(mock, i)) ?? ''}\0`, 'utf8'));
  if (maxString) log.deviations.push(`interface strings 1..${maxString} get composite's next indices (same texts)`);
  const strHead = Buffer.alloc(16);
  const strBody = maxString ? Buffer.concat([Buffer.from([0x09, 0x04]), ...texts]) : Buffer.alloc(0);
  strHead.writeUInt32LE(STRINGS_MAGIC, 0);
  strHead.writeUInt32LE(16 + strBody.length, 4);
  strHead.writeUInt32LE(maxString, 8);
  strHead.writeUInt32LE(maxString ? 1 : 0, 12);

  const ep0 = openSync(`${mnt}/ep0`, 'r+');
  await writeAsync(ep0, Buffer.concat([head, descs, descs]));
  await writeAsync(ep0, Buffer.concat([strHead, strBody]));

  let running = true;
  const fds: number[] = [ep0];
  // Endpoint files ep1.. follow the descriptor order; their reads/writes wait until the host
  // configures the device (ENABLE), so the pumps start now.
  endpoints.forEach((d, i) => {
    const file = `${mnt}/ep${i + 1}`;
    const fd = openSync(file, 'r+');
    fds.push(fd);
    log.endpointFiles.push(`ep${i + 1} = emulation 0x${d[2]!.toString(16)}`);
    pumpEndpoint({ mock, fd, descriptor: d, label: `ep${i + 1} (0x${d[2]!.toString(16)})`, log, running: () => running });
  });

  // ---- ep0: events and delegated control requests, strictly in turn ----
  const t0 = performance.now();
  const now = () => Math.round((performance.now() - t0) * 10) / 10;
  const answer = async (entry: BridgeSetup): Promise<void> => {
    const dirIn = (entry.bmRequestType & 0x80) !== 0;
    if (dirIn) {
      const r = await emulationSetup(mock, entry);
      if (r.status === 'ok') {
        entry.reply = Buffer.from(r.data ?? []).toString('hex');
        await writeAsync(ep0, r.data ?? new Uint8Array(0));
      } else {
        entry.reply = 'stall';
        // A read when IN data is due stalls (EL2HLT is the expected answer).
        await readAsync(ep0, Buffer.alloc(1), 1).catch(() => undefined);
      }
      return;
    }
    if (entry.wLength > 0) {
      // The data stage: the host's transfer completes with this read (dummy_hcd gives no
      // separate status stage to hold), so a stall the emulation answers after it cannot reach
      // the host: logged as 'stall after data'.
      const b = Buffer.alloc(entry.wLength);
      const got = await readAsync(ep0, b);
      const data = Uint8Array.from(b.subarray(0, got));
      entry.data = Buffer.from(data).toString('hex');
      const r = await emulationSetup(mock, entry, data);
      entry.reply = r.status === 'ok' ? 'ack' : 'stall after data';
      return;
    }
    const r = await emulationSetup(mock, entry);
    if (r.status === 'ok') {
      entry.reply = 'ack';
      await emptyReadAsync(ep0);
    } else {
      entry.reply = 'stall';
      await emptyWriteAsync(ep0).catch(() => undefined); // a write when none is due stalls
    }
  };
  void (async () => {
    const buf = Buffer.alloc(EVENT_SIZE * 4);
    log.events.push(`ep0 reader starts at uptime ${uptime()} (UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 'unset'})`);
    while (running) {
      const n = await readAsync(ep0, buf).catch((e: NodeJS.ErrnoException) => {
        // EIDRM: a SETUP this bridge had not read yet was cancelled by a newer event (the host
        // gave up on it, or unlinked it). Not an error of the bridge: usbmon's record of how each
        // request ended, and the order check against it, are what the tests judge.
        if (e.errno === -43) log.events.push(`EIDRM: a pending setup was cancelled, at uptime ${uptime()}`);
        else if (running) log.errors.push(`ep0 read: ${e.message}`);
        return -1;
      });
      if (n < 0) {
        await new Promise((res) => setTimeout(res, 5));
        continue;
      }
      const seen = now();
      for (let off = 0; off + EVENT_SIZE <= n; off += EVENT_SIZE) {
        const type = buf[off + 8]!;
        if (type !== SETUP) {
          log.events.push(`${EVENT_NAMES[type] ?? `type ${type}`} at uptime ${uptime()}`);
          continue;
        }
        const entry: BridgeSetup = {
          bmRequestType: buf[off]!,
          bRequest: buf[off + 1]!,
          wValue: buf.readUInt16LE(off + 2),
          wIndex: buf.readUInt16LE(off + 4),
          wLength: buf.readUInt16LE(off + 6),
          reply: '',
          seenMs: seen,
        };
        log.setups.push(entry);
        try {
          await answer(entry);
          entry.answeredMs = now();
        } catch (err) {
          entry.reply = `error: ${(err as Error).message}`;
          log.errors.push(`setup ${entry.bmRequestType.toString(16)}/${entry.bRequest.toString(16)}: ${(err as Error).message}`);
        }
      }
    }
  })();

  // Bind: the kernel sees the device plugged into the dummy root hub.
  await writeFile(`${g}/UDC`, udc);
  log.events.push(`bound to ${udc} at uptime ${uptime()}`);

  return {
    log,
    udc,
    async stop() {
      if (!running) return;
      running = false;
      await writeFile(`${g}/UDC`, '\n').catch((e: Error) => log.errors.push(`unbind: ${e.message}`));
      for (const fd of fds) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      }
      // Best effort: the gadget's configfs items (a later bridge in this process makes its own name).
      try {
        execSync(`umount ${mnt}`);
        unlinkSync(`${c}/ffs.${name}`);
        rmdirSync(f);
        rmdirSync(`${c}`);
        rmdirSync(`${g}/strings/0x409`);
        rmdirSync(g);
      } catch {
        // reads still pending on the files keep the mount busy; the process ends with SIGKILL
      }
    },
  };
}
