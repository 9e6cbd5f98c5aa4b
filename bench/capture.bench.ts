// Capture overhead: control transfers per second on an emulated device, bare and through the
// recorder (in memory, and writing pcapng to a file as it goes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { captureBackend, MemoryCapture } from '../src/capture/index.ts';
import type { HostBackend } from '../src/usb/host.ts';
import { MockUsbDevice, MockUsbHost } from '../mocks/index.ts';
import { emit } from './report.ts';

const N = 20_000;

async function rate(wrap: (b: HostBackend) => HostBackend): Promise<number> {
  const host = new MockUsbHost();
  const dev = new MockUsbDevice(
    { idVendor: 0x1209, idProduct: 0x0bec, configurations: [{ interfaces: [{ endpoints: [] }] }] },
    { onControl: () => Uint8Array.of(1, 2) },
    { transferLog: { limit: 0 } },
  );
  host.plug(dev);
  await host.flush();
  const [hd] = await wrap(host).getDevices();
  await hd!.usb.open();
  const setup = { requestType: 'vendor', recipient: 'device', request: 5, value: 0, index: 0 } as const;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await hd!.usb.controlTransferIn(setup, 2);
  const s = (performance.now() - t0) / 1000;
  await host.close();
  return Math.round(N / s);
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'capture-bench-'));
  try {
    const bare = await rate((b) => b);
    const mem = new MemoryCapture();
    const memory = await rate((b) => mem.wrapBackend(b));
    let handle: ReturnType<typeof captureBackend> | undefined;
    const file = await rate((b) => (handle = captureBackend(b, join(dir, 'bench.pcapng'))).backend);
    await handle?.close();
    emit({ name: 'capture.control_per_s_bare', value: bare, unit: 'transfers/s' });
    emit({ name: 'capture.control_per_s_memory', value: memory, unit: 'transfers/s', overhead: Number((bare / memory).toFixed(2)) });
    emit({ name: 'capture.control_per_s_file', value: file, unit: 'transfers/s', overhead: Number((bare / file).toFixed(2)) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
