// Guest job: the browser job's loopback (browser-webserial.ts) in Node, for comparison: the page's
// composition (createStack with the default driver sets) on the libusb host instead of WebUSB, on
// the same QEMU FTDI through the same kernel, with the same bytes: one line echoed
// (start-to-first-echo, from creating the backend, as the page's figure counts from its load), then
// VM_BYTES of the page's loopback pattern, byte-exact. ftdi_sio holds the interface at boot; the
// libusb backend detaches it at claim, as Chromium's AutomaticUsbDetach does.
import { createStack } from '../../../src/stack.ts';
import { createHostBackend } from '../../../src/usb/backends/select.ts';
import { defaultDriverSets } from '../../../drivers/index.ts';
import { patternByte } from '../../../web/app/loopback.ts';
import { hostLink, writeResult } from '../guest/link.ts';

const BYTES = Number(process.env.VM_BYTES ?? 64 * 1024);
/** How long one echo may take before the job gives up (Chromium's phases allow the same). */
const ECHO_TIMEOUT_MS = 240_000;
const ms = (t0: number) => Math.round(performance.now() - t0);

const link = hostLink();
const t = performance.now();
const stack = await createStack({ host: await createHostBackend('libusb'), driverSets: defaultDriverSets() });
const port = stack.ports()[0];
if (!port) throw new Error(`no usb-serial port bound in the guest (ports: ${stack.ports().length})`);

const chunks: Uint8Array[] = [];
let received = 0;
let wake: (() => void) | null = null;
port.events.subscribe((e) => {
  if (e.type !== 'data') return;
  chunks.push(e.data);
  received += e.data.length;
  wake?.();
});
/** Resolves once `n` bytes came back since the last reset, or throws naming how many did. */
const until = async (n: number, what: string) => {
  const deadline = Date.now() + ECHO_TIMEOUT_MS;
  while (received < n && Date.now() < deadline) await new Promise<void>((r) => ((wake = r), setTimeout(r, 500)));
  wake = null;
  if (received < n) throw new Error(`${what}: ${received} of ${n} bytes came back within ${ECHO_TIMEOUT_MS} ms`);
};

await port.open({ baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 });
const ping = new TextEncoder().encode('ping from node\r\n');
await port.write(ping);
await until(ping.length, 'the ping');
const startToFirstEchoMs = ms(t);
// performance.now() counts from the process's start: node's own start and loading the job's
// bundle included, as the page's load includes fetching and compiling its script.
const processToFirstEchoMs = Math.round(performance.now());
console.log(`node: first echo ${startToFirstEchoMs} ms after creating the backend, ${processToFirstEchoMs} ms after the process started (${port.name})`);

chunks.length = 0;
received = 0;
const data = Uint8Array.from({ length: BYTES }, (_, i) => patternByte(i));
const t1 = performance.now();
const writing = port.write(data);
await until(BYTES, 'the loopback');
await writing;
const seconds = (performance.now() - t1) / 1000;
const got = Buffer.concat(chunks);
await port.close();
await stack.close();

const result = {
  bytes: BYTES,
  port: port.name,
  startToFirstEchoMs,
  processToFirstEchoMs,
  received: got.length,
  identical: got.length === BYTES && got.every((b, i) => b === data[i]),
  seconds: Number(seconds.toFixed(2)),
  kiBps: Number((BYTES / 1024 / seconds).toFixed(2)),
};
console.log(`node: ${JSON.stringify(result)}`);
writeResult(result);
link.close();
