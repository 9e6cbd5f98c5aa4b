// (c) Our FTDI driver on QEMU's emulated FT232BM through a real kernel: probe, open, baud and
// line settings (checked on the chip side through QEMU's trace), a byte-exact 1 MiB echo with
// the host-side peer, and the interface back to the kernel's ftdi_sio on release.
import { expect } from 'chai';
import { withGuest } from './runner.ts';
import { echoPeer } from './peers.ts';
import { jobFailed, logTimings, skipWithoutVm } from './tier.ts';

const BYTES = 1 << 20;

interface Result {
  before: { kernelBound: string[]; ttys: string[] };
  bound: { port: string; chip: string; maxPacketSize: number; kernelBound: string[]; ttys: string[]; claimed: boolean };
  settings: Record<'opened' | 'changed' | 'back', { baud: number; dataBits: number; parity: string; stopBits: number }> & { latency: number | string };
  exchange: { bytes: number; written: number; received: number; identical: boolean; firstDiff: number; sha256Sent: string; sha256Received: string; seconds: number; kBps: number };
  released: { kernelBound: string[]; ttys: string[]; claimed: boolean; kernelDriverDetached: boolean; deviceOpened: boolean; openCount: number; minorsInUse: number };
}

/** The chip-side view: QEMU's usb_serial_set_baud / set_data trace lines for the device. */
function chipSide(trace: string): { bauds: number[]; data: string[] } {
  const bauds: number[] = [];
  const data: string[] = [];
  for (const line of trace.split('\n')) {
    const b = /usb_serial_set_baud .*baud rate (\d+)/.exec(line);
    if (b) bauds.push(Number(b[1]));
    const d = /usb_serial_set_data .*parity (\w), data bits (\d), stop bits (\d)/.exec(line);
    if (d) data.push(`${d[2]}${d[1]}${d[3]}`);
  }
  return { bauds, data };
}

describe('VM: the FTDI driver on a real kernel (QEMU usb-serial)', function () {
  this.timeout(300_000);
  skipWithoutVm();

  for (const backend of ['libusb', 'nusb'] as const) {
    it(`${backend}: probe, open, settings, 1 MiB byte-exact echo, interface back to ftdi_sio`, async () => {
      const run = await withGuest(
        { devices: [{ id: 'ftdi' }], job: 'hardware-tests/vm/jobs/ftdi-exchange.ts', env: { VM_BACKEND: backend, VM_BYTES: String(BYTES) }, trace: ['usb_serial_set_*'] },
        async (guest) => {
          const peer = echoPeer(await guest.serial('ftdi'));
          await guest.channel.next('ready', 120_000);
          return peer;
        },
      );
      logTimings(`ftdi exchange (${backend})`, run);
      if (run.status !== 0) throw jobFailed('ftdi-exchange job', run);
      const r = run.result as Result;
      console.log(`      [vm] ${backend}: 1 MiB echoed in ${r.exchange.seconds} s (${r.exchange.kBps} kB/s each way)`);
      expect(r.before.kernelBound).to.have.length(1);
      // Probe: ours took the interface from the kernel's driver.
      expect(r.bound.chip).to.equal('FT232BM');
      expect(r.bound.maxPacketSize).to.equal(64);
      expect(r.bound.claimed).to.equal(true);
      expect(r.bound.kernelBound).to.deep.equal([]);
      expect(r.bound.ttys).to.deep.equal([]);
      // Settings: what the driver says it applied, and what QEMU's chip decoded.
      expect(r.settings.opened).to.deep.include({ dataBits: 8, parity: 'none', stopBits: 1 });
      expect(r.settings.changed).to.deep.include({ dataBits: 7, parity: 'even', stopBits: 2 });
      expect(r.settings.back).to.deep.include({ baud: 3_000_000, dataBits: 8, parity: 'none', stopBits: 1 });
      const chip = chipSide(run.trace);
      expect(chip.bauds.slice(-3)).to.deep.equal([Math.floor(r.settings.opened.baud), Math.floor(r.settings.changed.baud), 3_000_000]);
      expect(Math.abs(r.settings.opened.baud - 115200) / 115200).to.be.below(0.03);
      expect(Math.abs(r.settings.changed.baud - 921600) / 921600).to.be.below(0.03);
      expect(chip.data.slice(-3)).to.deep.equal(['8N1', '7E2', '8N1']);
      // The exchange: both directions byte-exact, and the host saw exactly what the guest sent.
      expect(r.exchange.written).to.equal(BYTES);
      expect(r.exchange.received).to.equal(BYTES);
      expect(r.exchange.firstDiff, 'first differing byte').to.equal(-1);
      expect(r.exchange.identical).to.equal(true);
      expect(run.value.bytes).to.equal(BYTES);
      expect(run.value.sha256()).to.equal(r.exchange.sha256Sent);
      // Released: the kernel's ftdi_sio has the interface (and /dev/ttyUSB0) back; nothing held.
      expect(r.released.claimed).to.equal(false);
      expect(r.released.kernelDriverDetached).to.equal(false);
      expect(r.released.kernelBound).to.deep.equal(r.before.kernelBound);
      expect(r.released.ttys).to.deep.equal(r.before.ttys);
      expect(r.released.deviceOpened).to.equal(false);
      expect(r.released.openCount).to.equal(0);
      expect(r.released.minorsInUse).to.equal(0);
    });
  }
});
