// Guest job: the same session on QEMU's FTDI (usb-serial) twice, recorded both times. First
// the kernel's ftdi_sio drives it (/dev/ttyUSB* set to 115200 8N1 by stty, 5 bytes written),
// recorded by usbmon's binary interface (pcapng, link type 189, the kernel's own event bytes);
// then our FTDI driver through the `usb` package (libusb) does the same, recorded by our own
// recorder (--capture's captureBackend). Both files go back to the host.
import { execSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { captureBackend, enhancedPacketBlock, interfaceDescriptionBlock, LINKTYPE_USB_LINUX, sectionHeaderBlock } from '../../../src/capture/index.ts';
import { findByIds } from 'usb';
import { createStack } from '../../../src/stack.ts';
import { createHostBackend } from '../../../src/usb/backends/select.ts';
import { FTDI_IDS, ftdiSerialDriver } from '../../../drivers/ftdi/index.ts';
import { writeResult } from '../guest/link.ts';

const PAYLOAD = Buffer.from('hello');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const result: Record<string, unknown> = {};

/** The bus and address of the first FTDI (0403) device in sysfs. */
function ftdiDevice(): { bus: number; device: number } {
  for (const d of readdirSync('/sys/bus/usb/devices')) {
    const p = `/sys/bus/usb/devices/${d}`;
    if (existsSync(`${p}/idVendor`) && readFileSync(`${p}/idVendor`, 'utf8').trim() === '0403') {
      return { bus: Number(readFileSync(`${p}/busnum`, 'utf8')), device: Number(readFileSync(`${p}/devnum`, 'utf8')) };
    }
  }
  throw new Error('no FTDI device in /sys/bus/usb/devices');
}

/**
 * usbmon's binary interface (/dev/usbmonN) read by a `cat` child: each read() returns one event,
 * its 48-byte header (mon_bin_read: PKT_SZ_API0) and then len_cap bytes of data. Wrapped as
 * pcapng packets of link type 189 (LINKTYPE_USB_LINUX, that very header) with the kernel's
 * bytes untouched. `cat` is killed at once by SIGTERM; dumpcap would wait in the usbmon fetch
 * for one more event on a quiet bus.
 */
function usbmonToPcapng(raw: Buffer): Uint8Array {
  const blocks: Uint8Array[] = [sectionHeaderBlock('usbmon (guest kernel) via usb-serial-harness'), interfaceDescriptionBlock(LINKTYPE_USB_LINUX, 6)];
  for (let at = 0; at + 48 <= raw.length; ) {
    const lenCap = raw.readUInt32LE(at + 36);
    const packet = raw.subarray(at, at + 48 + lenCap);
    const ts = raw.readBigInt64LE(at + 16) * 1_000_000n + BigInt(raw.readInt32LE(at + 24));
    blocks.push(enhancedPacketBlock(0, ts, packet));
    at += 48 + lenCap;
  }
  return Buffer.concat(blocks);
}

async function kernelSession(bus: number, file: string): Promise<void> {
  execSync('modprobe usbmon');
  for (let i = 0; i < 100 && !existsSync(`/dev/usbmon${bus}`); i++) await sleep(20);
  const raw = `${file}.raw`;
  const out = openSync(raw, 'w');
  const cat = spawn('cat', [`/dev/usbmon${bus}`], { stdio: ['ignore', out, 'ignore'] });
  closeSync(out);
  const exited = new Promise<void>((r) => cat.once('exit', () => r()));
  await sleep(300);
  console.log(`usbmon${bus} read`);
  // The device was enumerated at boot, before usbmon ran: a port reset (USBDEVFS_RESET through
  // libusb) makes the kernel read its device and configuration descriptors again
  // (hub_port_init, descriptors_changed), so the capture has what Wireshark and the replay need.
  const dev = findByIds(0x0403, 0x6001);
  if (!dev) throw new Error('libusb does not see the FTDI');
  dev.open();
  await new Promise<void>((res) => dev.reset(() => res()));
  dev.close();
  let tty: string | undefined;
  for (let i = 0; i < 400 && !(tty = readdirSync('/dev').find((n) => n.startsWith('ttyUSB'))); i++) await sleep(25);
  if (!tty) throw new Error('ftdi_sio made no ttyUSB');
  // stty opens the tty (ftdi_sio's open: reset, modem lines), sets 115200 8N1 raw (SET_BAUD_RATE,
  // SET_DATA, SET_FLOW_CTRL) and closes it; the shell's redirection opens it again to write.
  execSync(`stty -F /dev/${tty} 115200 cs8 -parenb -cstopb raw -echo -crtscts && printf '${PAYLOAD.toString()}' > /dev/${tty}`, { timeout: 30_000 });
  await sleep(300);
  cat.kill('SIGTERM');
  await exited;
  writeFileSync(file, usbmonToPcapng(readFileSync(raw)));
}

async function ourSession(file: string): Promise<void> {
  const capture = captureBackend(await createHostBackend('libusb'), file);
  const stack = await createStack({ host: capture.backend, driverSets: [{ specs: [ftdiSerialDriver], name: 'ftdi_sio', ids: FTDI_IDS }] });
  try {
    const [port] = stack.ports();
    if (!port) throw new Error('our ftdi_sio bound no port');
    await port.open({ baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 });
    await port.write(PAYLOAD);
    await sleep(200);
    await port.close();
  } finally {
    await stack.close();
    await capture.close();
  }
}

try {
  const at = ftdiDevice();
  result.device = at;
  console.log(`FTDI at ${at.bus}:${at.device}; the kernel's session`);
  await kernelSession(at.bus, '/tmp/kernel-ftdi.pcapng');
  result.kernel = readFileSync('/tmp/kernel-ftdi.pcapng').toString('base64');
  console.log('our session');
  await ourSession('/tmp/ours-ftdi.pcapng');
  result.ours = readFileSync('/tmp/ours-ftdi.pcapng').toString('base64');
} catch (err) {
  result.error = `${(err as Error).name}: ${(err as Error).message}\n${(err as Error).stack}`;
}
writeResult(result);
console.log(result.error ?? 'done');
process.exit(0);
