// Captures of a real kernel, replayed in CI without a VM: the guest kernel's ftdi_sio and ours
// on QEMU's FT232BM, recorded by the VM tier (hardware-tests/vm/capture.vmtest.ts; how they
// were made: test/fixtures/captures/README.md). The kernel's capture played back as a device to
// our driver shows where the two drivers differ, and why; ours plays back with no difference.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readUsbmonEvents } from '../../src/capture/index.ts';
import { createReplayLab } from '../../mocks/replay/index.ts';
import { ftdiDiff, KERNEL_VS_OURS } from './ftdi-requests.ts';
import { FTDI_DRIVER, replaySession } from './sessions.ts';
import { fields, warnings } from './tshark.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/captures/${name}`, import.meta.url));
const KERNEL = fixture('kernel-ftdi_sio-qemu-ft232bm.pcapng');
const OURS = fixture('ours-ftdi_sio-qemu-ft232bm.pcapng');

describe('capture: real-kernel captures replayed to our FTDI driver', function () {
  this.timeout(30_000);

  it("tshark reads both; the kernel's (usbmon's own bytes, link type 189) has its descriptors and the FTDI requests", () => {
    expect(warnings(KERNEL)).to.equal('');
    expect(warnings(OURS)).to.equal('');
    expect(fields(KERNEL, 'usb.bDescriptorType == 1 && usb.idVendor', 'usb.idVendor', 'usb.idProduct', 'usb.bcdDevice')).to.deep.equal([['0x0403', '0x6001', '0x0400']]);
    // 115200 on the FT232BM: divisor 26, twice (stty's tcsetattr, then the printf's open)
    expect(fields(KERNEL, 'ftdi-ft.bRequest == 3', 'ftdi-ft.lValue').map(([v]) => v)).to.deep.equal(['0x38', '0x1a', '0x1a']);
  });

  it("the kernel's capture against our driver: the same open, and the differences the two drivers have", async () => {
    const lab = createReplayLab(readUsbmonEvents(readFileSync(KERNEL)), { fallback: 'stall', compareStandard: false });
    expect(lab.description).to.equal('device 1:2 (0403:6001 bcdDevice 0400)');
    const diff = await replaySession(lab, FTDI_DRIVER, { baudRate: 115200 });
    expect(ftdiDiff(diff)).to.deep.equal(KERNEL_VS_OURS);
    expect(diff.differences).to.equal(KERNEL_VS_OURS.kernelOnly.length + KERNEL_VS_OURS.oursOnly.length);
  });

  it('our own capture of the same session replays with no difference', async () => {
    const lab = createReplayLab(readUsbmonEvents(readFileSync(OURS)), { fallback: 'stall', compareStandard: false });
    const diff = await replaySession(lab, FTDI_DRIVER, { baudRate: 115200 });
    expect(diff.differences, lab.diffLines().join('\n')).to.equal(0);
    expect(diff.recorded).to.be.greaterThan(8);
  });
});
