// Capture and replay on a real kernel: the same session on QEMU's FTDI, driven by the guest
// kernel's ftdi_sio (recorded by usbmon) and by ours (recorded by our recorder). tshark reads
// both; the kernel's capture, replayed as a device to our driver, shows where the two drivers
// differ (KERNEL_VS_OURS, test/capture/ftdi-requests.ts); ours replays with no difference. With
// CAPTURE_FIXTURES=<dir> both are kept there, cut down to the FTDI: test/fixtures/captures/ was
// made so, and the unit tests replay it in CI without a VM.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUsbmonEvents } from '../../src/capture/index.ts';
import { createReplayLab } from '../../mocks/replay/index.ts';
import { FTDI_DRIVER, replaySession } from '../../test/capture/sessions.ts';
import { ftdiDiff, KERNEL_VS_OURS, trimToDevice } from '../../test/capture/ftdi-requests.ts';
import { warnings } from '../../test/capture/tshark.ts';
import { echoPeer } from './peers.ts';
import { withGuest } from './runner.ts';
import { jobFailed, logTimings, skipWithoutVm } from './tier.ts';

interface Result {
  device?: { bus: number; device: number };
  kernel?: string;
  ours?: string;
  error?: string;
}

describe('VM: capture and replay of ftdi_sio, the kernel\'s and ours, on QEMU\'s FTDI', function () {
  this.timeout(300_000);
  skipWithoutVm();
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'capture-vm-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('both captures read by tshark; the kernel\'s replayed to our driver differs where the drivers do; ours replays with no difference', async () => {
    // The UART side echoes (a loopback plug): QEMU's usb-serial takes no bytes without a peer.
    const run = await withGuest({ devices: [{ id: 'ftdi', serial: 'CAPTURE' }], job: 'hardware-tests/vm/jobs/capture.ts', timeoutMs: 180_000 }, async (guest) =>
      echoPeer(await guest.serial('ftdi')),
    );
    logTimings('capture', run);
    if (run.status !== 0) throw jobFailed('capture job', run);
    const r = run.result as Result;
    expect(r.error, 'job error').to.equal(undefined);
    const kernel = join(dir, 'kernel-ftdi.pcapng');
    const ours = join(dir, 'ours-ftdi.pcapng');
    writeFileSync(kernel, Buffer.from(r.kernel!, 'base64'));
    writeFileSync(ours, Buffer.from(r.ours!, 'base64'));
    const { bus, device } = r.device!;
    // CAPTURE_FIXTURES=test/fixtures/captures: keep them, cut down to the FTDI, as the unit tests' fixtures.
    if (process.env.CAPTURE_FIXTURES) {
      writeFileSync(join(process.env.CAPTURE_FIXTURES, 'kernel-ftdi_sio-qemu-ft232bm.pcapng'), trimToDevice(Buffer.from(r.kernel!, 'base64'), bus, device));
      writeFileSync(join(process.env.CAPTURE_FIXTURES, 'ours-ftdi_sio-qemu-ft232bm.pcapng'), trimToDevice(Buffer.from(r.ours!, 'base64'), bus, device));
    }
    expect(warnings(kernel)).to.equal('');
    expect(warnings(ours)).to.equal('');
    const events = readUsbmonEvents(Buffer.from(r.kernel!, 'base64'));
    const lab = createReplayLab(events, { device: `${bus}:${device}`, fallback: 'stall', compareStandard: false });
    const diff = await replaySession(lab, FTDI_DRIVER, { baudRate: 115200 });
    console.log(lab.diffLines().map((l) => `      ${l}`).join('\n'));
    expect(ftdiDiff(diff)).to.deep.equal(KERNEL_VS_OURS);
    // Our own capture of the same session, replayed to our driver: the same requests, none differ.
    const own = createReplayLab(readUsbmonEvents(Buffer.from(r.ours!, 'base64')), { device: `${bus}:${device}`, fallback: 'stall', compareStandard: false });
    expect((await replaySession(own, FTDI_DRIVER, { baudRate: 115200 })).differences).to.equal(0);
  });
});
