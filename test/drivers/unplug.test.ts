// Surprise removal mid-read and mid-write, for every chip family on the generic layer (one row
// each): the port reports the disconnect with PortDisconnectedError, a write says how far it got,
// no transfer is left pending, the device is given back, and the same dongle plugged again works.
import { expect } from 'chai';
import { PortDisconnectedError, type PortEvent } from '../../src/serial/index.ts';
import { loopbackPlug, nullModem, UartPort, type MockUsbDevice } from '../../mocks/index.ts';
import { createCdcAcm } from '../../mocks/cdc-acm/index.ts';
import { createCh34x } from '../../mocks/ch34x/index.ts';
import { createCp210x } from '../../mocks/cp210x/index.ts';
import { createPl2303 } from '../../mocks/pl2303/index.ts';
import { chipLab, collect, LAB_FAMILIES, type LabFamily } from './chip-lab.ts';
import { sleep, until } from '../helpers/async.ts';

interface UnplugCase {
  readonly label: string;
  readonly family: LabFamily<unknown, object>;
  /** A device for the read case, with the UART its far end is wired to. */
  reading(): { device: MockUsbDevice; uart: UartPort };
  /** Bulk IN reads at least this many in flight while data flows; the interrupt endpoint one, if the chip has it. */
  readonly bulkIn: { ep: number; atLeast: number };
  readonly interruptIn?: number;
  /** A paced device for the write case (nothing wired), and the rate it runs at. */
  writing(): MockUsbDevice;
  readonly writeBaud: number;
}

const paced = { chip: { uart: { pacing: true } } };

const CASES: UnplugCase[] = [
  {
    label: 'PL2303',
    family: LAB_FAMILIES.pl2303,
    reading: () => ((e) => ({ device: e.device, uart: e.chip.uart }))(createPl2303('PL2303HX')),
    bulkIn: { ep: 0x83, atLeast: 3 }, // 4 in flight, one may be resubmitting
    interruptIn: 0x81,
    writing: () => createPl2303('PL2303HXD', paced).device,
    writeBaud: 1_000_000,
  },
  {
    label: 'CP210x',
    family: LAB_FAMILIES.cp210x,
    reading: () => ((e) => ({ device: e.device, uart: e.chip.uart(0) }))(createCp210x('CP2102')),
    bulkIn: { ep: 0x81, atLeast: 3 },
    writing: () => createCp210x('CP2104', paced).device,
    writeBaud: 921_600,
  },
  {
    label: 'CH341',
    family: LAB_FAMILIES.ch341,
    reading: () => ((e) => ({ device: e.device, uart: e.chip.uart }))(createCh34x('CH340')),
    bulkIn: { ep: 0x82, atLeast: 3 },
    interruptIn: 0x81,
    writing: () => createCh34x('CH341', paced).device,
    writeBaud: 1_000_000,
  },
  {
    label: 'CDC-ACM',
    family: LAB_FAMILIES.cdcAcm,
    reading: () => ((e) => ({ device: e.device, uart: e.chip.uart }))(createCdcAcm('pico')),
    bulkIn: { ep: 0x82, atLeast: 1 },
    interruptIn: 0x81,
    writing: () => createCdcAcm('uno', paced).device,
    writeBaud: 1_000_000,
  },
];

for (const c of CASES) {
  describe(`${c.label} unplug`, function () {
    this.timeout(10_000);

    it('unplug mid-read: the port reports the disconnect, nothing is left pending, a replug works', async () => {
      const lab = await chipLab(c.family);
      // A far end trickling bytes at 9600 baud (paced), so reads are in flight and completing.
      const far = new UartPort({ name: 'far', pacing: true });
      try {
        const { device, uart } = c.reading();
        nullModem(uart, far);
        await lab.plug(device);
        const port = lab.port();
        const events: PortEvent[] = [];
        port.events.subscribe((e) => events.push(e));
        await port.open();
        void far.write(new Uint8Array(2000).fill(0x55));
        await collect(port, 20);
        expect(device.pendingOn(c.bulkIn.ep)).to.be.at.least(c.bulkIn.atLeast);
        if (c.interruptIn !== undefined) expect(device.pendingOn(c.interruptIn)).to.equal(1);

        lab.host.unplug(device);
        expect(device.resources().pendingTransfers).to.equal(0); // all rejected at once
        await sleep(5);
        const disc = events.find((e) => e.type === 'disconnect') as Extract<PortEvent, { type: 'disconnect' }> | undefined;
        expect(disc?.error).to.be.instanceOf(PortDisconnectedError);
        expect(port.gone).to.equal(true);
        expect(() => port.write(Uint8Array.of(1))).to.throw(PortDisconnectedError);
        await lab.host.flush();
        await lab.usb.settled();
        expect(lab.reg.adapters()).to.deep.equal([]);
        expect(device.resources()).to.deep.equal({ plugged: false, opened: false, claimedInterfaces: [], pendingTransfers: 0 });

        // The same dongle plugged again is a new adapter and port that work.
        far.wire?.detach();
        loopbackPlug(uart);
        await lab.plug(device);
        const again = lab.port();
        await again.open();
        const got = collect(again, 3);
        await again.write(Uint8Array.of(7, 0xec, 9));
        expect([...(await got)]).to.deep.equal([7, 0xec, 9]);
      } finally {
        far.reset(); // stop its paced transmitter
        await lab.close();
      }
    });

    it('unplug mid-write: PortDisconnectedError with the bytes that went out, nothing pending', async () => {
      const lab = await chipLab(c.family);
      try {
        // Paced with nothing wired: each 16 KiB chunk takes well over 100 ms on the line.
        const device = c.writing();
        await lab.plug(device);
        const port = lab.port();
        await port.open({ baudRate: c.writeBaud });
        const write = port.write(new Uint8Array(4 * 16384));
        write.catch(() => undefined);
        await until(() => port.stats.bytesWritten >= 16384, 5000, 'the first 16 KiB taken');
        lab.host.unplug(device);
        const err = await write.catch((e: unknown) => e);
        expect(err).to.be.instanceOf(PortDisconnectedError);
        expect((err as PortDisconnectedError).bytesWritten).to.equal(16384);
        expect((err as Error).message).to.match(/after 16384 bytes/);
        expect(device.resources().pendingTransfers).to.equal(0);
        await lab.host.flush();
        await lab.usb.settled();
        expect(lab.reg.adapters()).to.deep.equal([]);
      } finally {
        await lab.close();
      }
    });
  });
}
