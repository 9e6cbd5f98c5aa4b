// Surprise removal and unbinding while a port is in use: the user gets a clear error and a
// 'disconnect' event, no transfer is left pending on the device, and nothing is resubmitted.
import { expect } from 'chai';
import { PortDisconnectedError, deregisterUsbSerialDrivers } from '../../../src/serial/index.ts';
import { UartPort, nullModem } from '../../../mocks/index.ts';
import { mockFt2232h, mockFt232r } from '../../../mocks/ftdi/index.ts';
import { sleep, until } from '../../helpers/async.ts';
import { pattern } from '../../helpers/bytes.ts';
import { ftdiLab, record, type FtdiLab } from './lab.ts';

describe('ftdi_sio: unplug and unbind in the middle of I/O', function () {
  this.timeout(10_000);
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  it('unplugged in the middle of a read: disconnect event, clear errors after, no pending transfer', async () => {
    const f = mockFt232r({ pacing: true });
    const far = new UartPort({ name: 'far', pacing: true, settings: { baudRate: 1_000_000 } });
    nullModem(f.uart(), far);
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 1_000_000 });
    const rec = record(port!);
    void far.write(pattern(200_000)); // 2 s of data streaming in
    await until(() => rec.received > 20_000, 3000, 'data flowing');
    expect(f.device.pendingTransfers).to.be.above(0); // reads in flight
    lab.host.unplug(f.device);
    expect(f.device.pendingTransfers).to.equal(0);
    await lab.host.flush();
    await lab.usb.settled();
    const disc = rec.ofType('disconnect');
    expect(disc.length).to.equal(1);
    expect(disc[0]!.error).to.be.instanceOf(PortDisconnectedError);
    expect(disc[0]!.error.message).to.match(/ttyUSB\d+ was disconnected/);
    expect(port!.gone).to.equal(true);
    expect(() => port!.write(new Uint8Array(1))).to.throw(PortDisconnectedError);
    const reopen = await port!.open().catch((e: unknown) => e);
    expect(reopen).to.be.instanceOf(PortDisconnectedError);
    const got = rec.received;
    await sleep(50);
    expect(rec.received).to.equal(got); // nothing after the disconnect
    expect(f.device.resources()).to.deep.equal({ plugged: false, opened: false, claimedInterfaces: [], pendingTransfers: 0 });
    expect(lab.reg.ports()).to.deep.equal([]);
  });

  it('unplugged in the middle of a write: the write rejects with PortDisconnectedError saying how much went out', async () => {
    const f = mockFt232r({ pacing: true }); // paced and unwired: the UART takes line time for every byte
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 921600 });
    const rec = record(port!);
    const total = 256 * 1024;
    const w = port!.write(pattern(total));
    await until(() => port!.stats.bytesWritten >= 32 * 1024, 5000, '32 KiB written');
    lab.host.unplug(f.device);
    const err = await w.catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PortDisconnectedError);
    const written = (err as PortDisconnectedError).bytesWritten;
    expect(written).to.be.at.least(32 * 1024).and.below(total);
    expect(written % (16 * 1024)).to.equal(0); // whole chunks the chip took
    expect((err as Error).message).to.match(new RegExp(`after ${written} bytes`));
    expect(f.device.pendingTransfers).to.equal(0);
    await lab.host.flush();
    await lab.usb.settled();
    expect(rec.ofType('disconnect').length).to.equal(1);
    expect(f.device.resources()).to.deep.include({ pendingTransfers: 0, claimedInterfaces: [] });
  });

  it('unbinding (deregistration) while both ports of an FT2232H read: reads stopped, interfaces released, device still there', async () => {
    const f = mockFt2232h();
    const ports = await lab.plug(f);
    for (const p of ports) await p.open({ baudRate: 115200 });
    const recs = ports.map((p) => record(p));
    await sleep(40);
    expect(f.device.pendingTransfers).to.be.above(0);
    await deregisterUsbSerialDrivers(lab.reg);
    for (const r of recs) expect(r.ofType('disconnect').length).to.equal(1);
    expect(f.device.resources()).to.deep.include({ plugged: true, pendingTransfers: 0, claimedInterfaces: [] });
    await sleep(50);
    expect(f.device.pendingTransfers).to.equal(0); // nothing resubmitted
  });

  it('unplugged while the port opens: open rejects with PortDisconnectedError', async () => {
    const f = mockFt232r();
    const [port] = await lab.plug(f);
    f.device.faults.inject({ on: 'control', request: 0x03, kind: 'delay', ms: 30 }); // SET_BAUD_RATE answers late
    const opening = port!.open({ baudRate: 9600 });
    await sleep(10);
    lab.host.unplug(f.device);
    const err = await opening.catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PortDisconnectedError);
    await lab.host.flush();
    await lab.usb.settled();
    expect(f.device.resources()).to.deep.include({ pendingTransfers: 0 });
  });

  // A backend may report a device that is going away as a missing endpoint before its
  // disconnect event arrives (nusb: "endpoint not found"); the write asks the device for its
  // status and reports the unplug, not the backend's error.
  it('a write failing with an unexplained error on a device that no longer answers GET_STATUS is a PortDisconnectedError', async () => {
    const f = mockFt232r();
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 115_200 });
    const usb = port!.serial.intf.usb;
    const endpointGone = () => Object.assign(new Error('transferOut error: endpoint not found'), { name: 'InvalidStateError' });
    usb.transferOut = async () => Promise.reject(endpointGone());
    usb.controlTransferIn = async () => Promise.reject(Object.assign(new Error('device gone'), { name: 'NotFoundError' }));
    const err = await port!.write(pattern(100)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PortDisconnectedError);
  });

  it('the same error on a device that still answers GET_STATUS is reported as it is', async () => {
    const f = mockFt232r();
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 115_200 });
    const usb = port!.serial.intf.usb;
    usb.transferOut = async () => Promise.reject(Object.assign(new Error('transferOut error: endpoint not found'), { name: 'InvalidStateError' }));
    const err = (await port!.write(pattern(100)).catch((e: unknown) => e)) as Error;
    expect(err).to.not.be.instanceOf(PortDisconnectedError);
    expect(err.name).to.equal('InvalidStateError');
    expect(port!.gone).to.equal(false);
  });
});
