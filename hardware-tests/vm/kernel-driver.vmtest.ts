// (b) Our stack enumerates QEMU's FTDIs through the `usb` package; a plain UsbDriver binds one
// of two, and the guest kernel's ftdi_sio is detached from that interface only, then given back.
import { expect } from 'chai';
import { withGuest } from './runner.ts';
import { jobFailed, logTimings, skipWithoutVm } from './tier.ts';

interface Steps {
  before: { kernelBound: string[]; ttys: string[]; target: string };
  enumerated: { name: string; serial: string; product: string; endpoints: number }[];
  bound: { probed: string[]; declined: string[]; claimed: boolean; kernelDriverDetached: boolean; descriptorOk: boolean; kernelBound: string[]; ttys: string[] };
  released: { disconnected: string[]; claimed: boolean; kernelBound: string[]; ttys: string[]; openCount: number; opened: boolean };
}

describe('VM: the kernel driver handed over and back (ftdi_sio in the guest)', function () {
  this.timeout(300_000);
  skipWithoutVm();

  for (const backend of ['libusb', 'nusb'] as const) {
    it(`${backend}: binds one of two FTDIs, detaching ftdi_sio from that interface only, and gives it back`, async () => {
      const run = await withGuest({
        devices: [{ id: 'ftdi', serial: 'BIND' }, { id: 'other', serial: 'OTHER' }],
        job: 'hardware-tests/vm/jobs/kernel-driver.ts',
        env: { VM_BACKEND: backend, VM_BIND_SERIAL: 'BIND' },
      });
      logTimings(`kernel driver (${backend})`, run);
      if (run.status !== 0) throw jobFailed('kernel-driver job', run);
      const s = run.result as Steps;
      const target = s.before.target;
      const other = s.before.kernelBound.find((n) => n !== target);
      expect(s.before.kernelBound, 'ftdi_sio binds both at boot').to.have.length(2);
      expect(s.before.ttys).to.have.length(2);
      expect(s.enumerated.map((e) => e.name).sort()).to.deep.equal([...s.before.kernelBound].sort());
      expect(s.enumerated.every((e) => e.product === 'QEMU USB SERIAL' && e.endpoints === 2)).to.equal(true);
      // Bound: ours on the target only; the kernel keeps the other.
      expect(s.bound.probed).to.deep.equal([target]);
      expect(s.bound.declined).to.deep.equal([other]);
      expect(s.bound.claimed).to.equal(true);
      expect(s.bound.kernelDriverDetached).to.equal(true);
      expect(s.bound.descriptorOk, 'GET_DESCRIPTOR through our claim').to.equal(true);
      expect(s.bound.kernelBound).to.deep.equal([other]);
      expect(s.bound.ttys).to.have.length(1);
      // Released: disconnect once, interface free, ftdi_sio back on both, both ttys back.
      expect(s.released.disconnected).to.deep.equal([target]);
      expect(s.released.claimed).to.equal(false);
      expect(s.released.kernelBound).to.deep.equal(s.before.kernelBound);
      expect(s.released.ttys).to.have.length(2);
      expect(s.released.openCount).to.equal(0);
      expect(s.released.opened).to.equal(false);
    });
  }
});
