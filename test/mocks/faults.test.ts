import { expect } from 'chai';
import { transferErrorKind, type HostEvent } from '../../src/usb/host.ts';
import { FaultSpecError, MockUsbDevice, MockUsbHost, type DeviceSpec, type MockBehaviour } from '../../mocks/index.ts';
import { rejection } from '../helpers/async.ts';

const spec: DeviceSpec = {
  idVendor: 0x1234,
  idProduct: 0x0001,
  configurations: [
    {
      interfaces: [
        {
          endpoints: [
            { bEndpointAddress: 0x81, type: 'bulk', wMaxPacketSize: 64 },
            { bEndpointAddress: 0x02, type: 'bulk', wMaxPacketSize: 64 },
            { bEndpointAddress: 0x83, type: 'interrupt', wMaxPacketSize: 16 },
          ],
        },
      ],
    },
  ],
};

function track<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

const bytes = (r: USBInTransferResult) => [...new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength)];
const vendor = (request: number): USBControlTransferParameters => ({ requestType: 'vendor', recipient: 'device', request, value: 0, index: 0 });

/** An emulation with a byte stream on 0x81, a sink on 0x02, and vendor request 1 answered with [1,2,3,4]. */
function streamBehaviour() {
  const rx: number[] = [];
  const sink: number[] = [];
  const b: MockBehaviour = {
    onIn: (ep, max) => (ep === 0x81 && rx.length > 0 ? Uint8Array.from(rx.splice(0, max)) : undefined),
    onOut: (_ep, data) => {
      sink.push(...data);
    },
    onControl: (s, data) => {
      if (s.requestType !== 'vendor') return undefined;
      if (s.direction === 'in') return new Uint8Array([1, 2, 3, 4]);
      sink.push(...(data ?? []));
      return 'ack';
    },
  };
  return { b, rx, sink };
}

async function setup(b: MockBehaviour = {}) {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
  const dev = new MockUsbDevice(spec, b);
  host.plug(dev);
  await dev.open();
  await dev.claimInterface(0);
  return { host, dev };
}

describe('mocks/faults', () => {
  it('stall on IN halts the endpoint: later transfers stall until clearHalt', async () => {
    const { b, rx } = streamBehaviour();
    const { dev } = await setup(b);
    rx.push(1, 2);
    dev.faults.inject({ on: 'in', endpoint: 1, kind: 'stall' });
    expect((await dev.transferIn(1, 64)).status).to.equal('stall');
    expect((await dev.transferIn(1, 64)).status).to.equal('stall');
    expect(rx).to.deep.equal([1, 2]); // nothing was taken from the chip
    await dev.clearHalt('in', 1);
    expect(bytes(await dev.transferIn(1, 64))).to.deep.equal([1, 2]);
    expect(dev.transferLog.filter((e) => e.fault === 'stall')).to.have.length(1);
  });

  it('stall on OUT keeps the data from the chip; on control it fails only that request', async () => {
    const { b, sink } = streamBehaviour();
    const { dev } = await setup(b);
    dev.faults.inject({ on: 'out', kind: 'stall' });
    expect((await dev.transferOut(2, new Uint8Array([5]))).status).to.equal('stall');
    expect(sink).to.deep.equal([]);
    dev.faults.inject({ on: 'control', request: 1, kind: 'stall' });
    expect((await dev.controlTransferIn(vendor(1), 4)).status).to.equal('stall');
    expect((await dev.controlTransferIn(vendor(1), 4)).status).to.equal('ok');
  });

  it('timeout rejects TimeoutError after ms, without serving the transfer', async () => {
    const { b, rx, sink } = streamBehaviour();
    const { dev } = await setup(b);
    rx.push(7);
    dev.faults.inject({ on: 'in', kind: 'timeout', ms: 15 });
    const t0 = performance.now();
    const err = await rejection(dev.transferIn(1, 64));
    expect(transferErrorKind(err)).to.equal('timeout');
    expect(performance.now() - t0).to.be.at.least(10);
    expect(bytes(await dev.transferIn(1, 64))).to.deep.equal([7]);
    dev.faults.inject({ on: 'out', kind: 'timeout' });
    expect((await rejection(dev.transferOut(2, new Uint8Array([1]), { timeoutMs: 5 }))).name).to.equal('TimeoutError');
    expect(sink).to.deep.equal([]);
    dev.faults.inject({ on: 'control', kind: 'timeout', ms: 1 });
    expect((await rejection(dev.controlTransferIn(vendor(1), 4))).name).to.equal('TimeoutError');
    expect(dev.pendingTransfers).to.equal(0);
  });

  it('a timed-out IN transfer blocks the ones behind it until it expires (FIFO, like a host controller)', async () => {
    const { b, rx } = streamBehaviour();
    const { dev } = await setup(b);
    dev.faults.inject({ on: 'in', kind: 'timeout', ms: 10 });
    const first = track(dev.transferIn(1, 64));
    const second = dev.transferIn(1, 64);
    rx.push(3);
    expect((await rejection(first)).name).to.equal('TimeoutError');
    expect(bytes(await second)).to.deep.equal([3]);
  });

  it('short: IN returns at most `bytes` and leaves the rest in the chip; OUT delivers only `bytes`', async () => {
    const { b, rx, sink } = streamBehaviour();
    const { dev } = await setup(b);
    rx.push(1, 2, 3, 4, 5, 6);
    dev.faults.inject({ on: 'in', kind: 'short', bytes: 2 });
    const r = await dev.transferIn(1, 64);
    expect(r.status).to.equal('ok');
    expect(bytes(r)).to.deep.equal([1, 2]);
    expect(bytes(await dev.transferIn(1, 64))).to.deep.equal([3, 4, 5, 6]);
    dev.faults.inject({ on: 'out', kind: 'short', bytes: 1 });
    expect(await dev.transferOut(2, new Uint8Array([9, 9, 9]))).to.deep.equal({ status: 'ok', bytesWritten: 1 });
    expect(sink).to.deep.equal([9]);
    dev.faults.inject({ on: 'control', direction: 'in', kind: 'short', bytes: 3 });
    expect(bytes(await dev.controlTransferIn(vendor(1), 4))).to.deep.equal([1, 2, 3]);
    dev.faults.inject({ on: 'in', kind: 'short', bytes: 0 });
    expect(bytes(await dev.transferIn(1, 64))).to.deep.equal([]); // a ZLP
  });

  it('babble: IN resolves status babble with garbage, taking nothing from the chip', async () => {
    const { b, rx } = streamBehaviour();
    const { dev } = await setup(b);
    rx.push(1);
    dev.faults.inject({ on: 'in', kind: 'babble', bytes: 5 });
    const r = await dev.transferIn(1, 64);
    expect(r.status).to.equal('babble');
    expect(bytes(r)).to.deep.equal([0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(rx).to.deep.equal([1]);
    dev.faults.inject({ on: 'control', direction: 'in', kind: 'babble' });
    expect((await dev.controlTransferIn(vendor(1), 4)).status).to.equal('babble');
  });

  it('delay: the answer comes ms late; a shorter timeout still fires', async () => {
    const { b, rx, sink } = streamBehaviour();
    const { dev } = await setup(b);
    rx.push(1);
    dev.faults.inject({ on: 'in', kind: 'delay', ms: 25 });
    let t0 = performance.now();
    expect(bytes(await dev.transferIn(1, 64))).to.deep.equal([1]);
    expect(performance.now() - t0).to.be.at.least(20);
    dev.faults.inject({ on: 'out', kind: 'delay', ms: 20 });
    t0 = performance.now();
    await dev.transferOut(2, new Uint8Array([4]));
    expect(performance.now() - t0).to.be.at.least(15);
    expect(sink).to.deep.equal([4]);
    dev.faults.inject({ on: 'control', kind: 'delay', ms: 20 });
    t0 = performance.now();
    await dev.controlTransferIn(vendor(1), 4);
    expect(performance.now() - t0).to.be.at.least(15);
    rx.push(2);
    dev.faults.inject({ on: 'in', kind: 'delay', ms: 50 });
    expect((await rejection(dev.transferIn(1, 64, { timeoutMs: 5 }))).name).to.equal('TimeoutError');
    expect(rx).to.deep.equal([2]); // not taken: the device never answered in time
  });

  it('disconnect mid-transfer: the device unplugs, every pending transfer rejects NotFoundError, none left', async () => {
    const { b } = streamBehaviour();
    const { dev, host } = await setup(b);
    const events: HostEvent[] = [];
    await host.watch((e) => events.push(e));
    const others = [dev.transferIn(1, 64), dev.transferIn(3, 16), dev.transferIn(1, 64)].map(track);
    dev.faults.inject({ on: 'out', endpoint: 2, kind: 'disconnect', ms: 5 });
    const victim = dev.transferOut(2, new Uint8Array([1]));
    expect(dev.pendingTransfers).to.equal(4);
    const err = await rejection(victim);
    expect(err.name).to.equal('NotFoundError');
    for (const p of others) expect(transferErrorKind(await rejection(p))).to.equal('disconnected');
    expect(dev.pendingTransfers).to.equal(0);
    expect(dev.plugged).to.equal(false);
    await host.flush();
    expect(events.map((e) => e.type)).to.deep.equal(['disconnect']);
  });

  it('disconnect on a control request works the same way', async () => {
    const { dev } = await setup(streamBehaviour().b);
    dev.faults.inject({ on: 'control', kind: 'disconnect' });
    expect((await rejection(dev.controlTransferIn(vendor(1), 4))).name).to.equal('NotFoundError');
    expect(dev.resources()).to.deep.equal({ plugged: false, opened: false, claimedInterfaces: [], pendingTransfers: 0 });
  });

  it('matches by endpoint and request; times, skip and cancel', async () => {
    const { b, rx } = streamBehaviour();
    const { dev } = await setup(b);
    const rule = dev.faults.inject({ on: 'control', request: 1, kind: 'stall', times: 2, skip: 1 });
    expect((await dev.controlTransferIn(vendor(1), 4)).status).to.equal('ok'); // skipped
    expect((await dev.controlTransferIn(vendor(2), 4)).status).to.equal('ok'); // other request
    expect((await dev.controlTransferIn(vendor(1), 4)).status).to.equal('stall');
    expect(rule.remaining).to.equal(1);
    expect((await dev.controlTransferIn(vendor(1), 4)).status).to.equal('stall');
    expect((await dev.controlTransferIn(vendor(1), 4)).status).to.equal('ok');
    expect(dev.faults.active).to.have.length(0);
    const forever = dev.faults.inject({ on: 'in', endpoint: 3, kind: 'babble', times: Infinity });
    rx.push(1);
    expect(bytes(await dev.transferIn(1, 64))).to.deep.equal([1]); // endpoint 1 untouched
    for (let i = 0; i < 3; i++) expect((await dev.transferIn(3, 16)).status).to.equal('babble');
    forever.cancel();
    expect(dev.faults.active).to.deep.equal([]);
    expect(dev.faults.fired).to.equal(5);
  });

  it('refuses rules that cannot apply', () => {
    const dev = new MockUsbDevice(spec);
    const bad = [
      { on: 'out', kind: 'babble' },
      { on: 'control', kind: 'babble' },
      { on: 'control', endpoint: 1, kind: 'stall' },
      { on: 'in', request: 1, kind: 'stall' },
      { on: 'in', endpoint: 0x81, kind: 'stall' },
      { on: 'in', kind: 'delay' },
      { on: 'in', kind: 'stall', times: 0 },
      { on: 'in', kind: 'short', bytes: -1 },
      { on: 'bulk', kind: 'stall' },
      { on: 'in', kind: 'explode' },
    ] as const;
    for (const s of bad) expect(() => dev.faults.inject(s as never), JSON.stringify(s)).to.throw(FaultSpecError);
  });
});
