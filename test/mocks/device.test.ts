import { expect } from 'chai';
import { transferErrorKind } from '../../src/usb/host.ts';
import {
  MockUsbDevice,
  MockUsbHost,
  TransferLimitError,
  encodeDeviceDescriptor,
  type ControlSetup,
  type DeviceSpec,
  type MockBehaviour,
  type MockDeviceContext,
  type MockUsbDeviceOptions,
  type PlugOptions,
} from '../../mocks/index.ts';
import { rejection, sleep } from '../helpers/async.ts';

const spec: DeviceSpec = {
  idVendor: 0x1234,
  idProduct: 0x5678,
  manufacturer: 'Lab',
  product: 'Widget',
  serialNumber: 'W1',
  configurations: [
    {
      interfaces: [
        {
          endpoints: [
            { bEndpointAddress: 0x81, type: 'bulk', wMaxPacketSize: 64 },
            { bEndpointAddress: 0x02, type: 'bulk', wMaxPacketSize: 64 },
            { bEndpointAddress: 0x83, type: 'interrupt', wMaxPacketSize: 16, bInterval: 1 },
          ],
        },
        {
          alternates: [
            { endpoints: [] },
            {
              endpoints: [
                { bEndpointAddress: 0x84, type: 'isochronous', wMaxPacketSize: 256 },
                { bEndpointAddress: 0x05, type: 'bulk', wMaxPacketSize: 64 },
              ],
            },
          ],
        },
      ],
    },
    { bConfigurationValue: 2, interfaces: [{ endpoints: [{ bEndpointAddress: 0x81, type: 'bulk' }] }] },
  ],
};

const vendorIn = (request: number, value = 0, index = 0): USBControlTransferParameters => ({
  requestType: 'vendor',
  recipient: 'device',
  request,
  value,
  index,
});

/** Marks a promise as handled now (it is awaited later), so Node does not warn. */
function track<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

const bytes = (r: USBInTransferResult) => [...new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength)];

async function setup(behaviour: MockBehaviour = {}, options: MockUsbDeviceOptions = {}, plug: PlugOptions = {}) {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
  const dev = new MockUsbDevice(spec, behaviour, options);
  const hd = host.plug(dev, '1-1', plug);
  await dev.open();
  await dev.claimInterface(0);
  return { host, dev, hd };
}

describe('mocks/device: MockUsbDevice', () => {
  describe('open / close / forget', () => {
    it('opens and closes; both are idempotent', async () => {
      const host = new MockUsbHost();
      const dev = new MockUsbDevice(spec);
      host.plug(dev);
      expect(dev.opened).to.equal(false);
      await dev.close();
      await dev.open();
      await dev.open();
      expect(dev.opened).to.equal(true);
      await dev.close();
      expect(dev.opened).to.equal(false);
    });

    it('rejects NotFoundError on an unplugged device', async () => {
      const dev = new MockUsbDevice(spec);
      for (const p of [dev.open(), dev.close(), dev.reset(), dev.selectConfiguration(1), dev.claimInterface(0)]) {
        expect((await rejection(p)).name).to.equal('NotFoundError');
      }
      expect((await rejection(dev.transferIn(1, 64))).name).to.equal('NotFoundError');
      expect((await rejection(dev.controlTransferIn(vendorIn(1), 1))).name).to.equal('NotFoundError');
    });

    it('refuses a second state change while one is in progress', async () => {
      const host = new MockUsbHost();
      const dev = new MockUsbDevice(spec);
      host.plug(dev);
      const first = dev.open();
      const err = await rejection(dev.close());
      expect(err.name).to.equal('InvalidStateError');
      await first;
    });

    it('close aborts pending transfers (AbortError) and releases interfaces', async () => {
      const { dev } = await setup();
      const pending = [dev.transferIn(1, 64), dev.transferIn(3, 16)].map(track);
      expect(dev.pendingTransfers).to.equal(2);
      await dev.close();
      for (const p of pending) {
        const err = await rejection(p);
        expect(err.name).to.equal('AbortError');
        expect(transferErrorKind(err)).to.equal('aborted');
      }
      expect(dev.resources()).to.deep.equal({ plugged: true, opened: false, claimedInterfaces: [], pendingTransfers: 0 });
      expect((await rejection(dev.transferIn(1, 64))).name).to.equal('InvalidStateError');
    });

    it('forget closes the device and hides it from WebUSB getDevices until requested again', async () => {
      const { dev, host } = await setup();
      await dev.forget();
      expect(dev.opened).to.equal(false);
      expect(await host.webusb.getDevices()).to.deep.equal([]);
      expect((await rejection(dev.open())).name).to.equal('NotFoundError');
      expect(await host.webusb.requestDevice({ filters: [{ vendorId: 0x1234 }] })).to.equal(dev);
      await dev.open();
    });

    it('unplug rejects pending transfers with NotFoundError and leaves the device closed', async () => {
      const { dev, host } = await setup();
      const p = track(dev.transferIn(1, 64));
      host.unplug(dev);
      const err = await rejection(p);
      expect(transferErrorKind(err)).to.equal('disconnected');
      expect(dev.resources()).to.deep.equal({ plugged: false, opened: false, claimedInterfaces: [], pendingTransfers: 0 });
      expect(dev.configuration).to.equal(null);
    });
  });

  describe('configurations and interfaces', () => {
    it('selectConfiguration: needs open, knows its values, drops claims on a change', async () => {
      const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
      const dev = new MockUsbDevice(spec);
      host.plug(dev);
      expect((await rejection(dev.selectConfiguration(1))).name).to.equal('InvalidStateError');
      await dev.open();
      expect((await rejection(dev.selectConfiguration(9))).name).to.equal('NotFoundError');
      await dev.claimInterface(0);
      await dev.selectConfiguration(1); // same: nothing happens
      expect(dev.claimedInterfaces).to.deep.equal([0]);
      const pending = track(dev.transferIn(1, 64));
      await dev.selectConfiguration(2);
      expect((await rejection(pending)).name).to.equal('AbortError');
      expect(dev.configuration!.configurationValue).to.equal(2);
      expect(dev.claimedInterfaces).to.deep.equal([]);
      const log = dev.transferLog.find((e) => e.setup?.bRequest === 0x09)!;
      expect(log.setup).to.deep.include({ bmRequestType: 0, wValue: 2 });
    });

    it('selectConfiguration rejects NetworkError when the device stalls SET_CONFIGURATION', async () => {
      const host = new MockUsbHost();
      const dev = new MockUsbDevice(spec, { onControl: (s) => (s.bRequest === 0x09 ? 'stall' : undefined) });
      host.plug(dev);
      await dev.open();
      expect((await rejection(dev.selectConfiguration(2))).name).to.equal('NetworkError');
    });

    it('an unconfigured device refuses interface operations', async () => {
      const host = new MockUsbHost();
      const dev = new MockUsbDevice(spec);
      host.plug(dev, undefined, { configureAtPlug: false });
      await dev.open();
      expect(dev.configuration).to.equal(null);
      const err = await rejection(dev.claimInterface(0));
      expect(err.name).to.equal('InvalidStateError');
      expect(err.message).to.match(/configuration/);
    });

    it('claimInterface / releaseInterface: unknown interfaces, idempotence, claimed flag', async () => {
      const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
      const dev = new MockUsbDevice(spec);
      host.plug(dev);
      expect((await rejection(dev.claimInterface(0))).name).to.equal('InvalidStateError'); // not open
      await dev.open();
      expect((await rejection(dev.claimInterface(7))).name).to.equal('NotFoundError');
      expect((await rejection(dev.releaseInterface(7))).name).to.equal('NotFoundError');
      await dev.releaseInterface(0); // not claimed: resolves, as the spec says
      await dev.claimInterface(0);
      await dev.claimInterface(0);
      expect(dev.configuration!.interfaces[0].claimed).to.equal(true);
      expect(dev.claimedInterfaces).to.deep.equal([0]);
      const p = track(dev.transferIn(1, 64));
      await dev.releaseInterface(0);
      expect((await rejection(p)).name).to.equal('AbortError');
      expect(dev.configuration!.interfaces[0].claimed).to.equal(false);
    });

    it('a bound kernel driver blocks claimInterface until detached', async () => {
      const host = new MockUsbHost();
      const dev = new MockUsbDevice(spec);
      const hd = host.plug(dev);
      await dev.open();
      const err = await rejection(dev.claimInterface(0));
      expect(err.name).to.equal('NetworkError');
      expect(err.message).to.match(/kernel driver/);
      await hd.kernelDriver.detach(0);
      await dev.claimInterface(0);
    });

    it('selectAlternateInterface: needs a claim, knows its settings, switches endpoints', async () => {
      const { dev } = await setup();
      expect((await rejection(dev.selectAlternateInterface(1, 1))).name).to.equal('InvalidStateError');
      await dev.claimInterface(1);
      expect((await rejection(dev.selectAlternateInterface(1, 5))).name).to.equal('NotFoundError');
      expect((await rejection(dev.transferOut(5, new Uint8Array(1)))).name).to.equal('NotFoundError');
      await dev.selectAlternateInterface(1, 1);
      expect(dev.configuration!.interfaces[1].alternate.alternateSetting).to.equal(1);
      const r = await dev.transferOut(5, new Uint8Array([1, 2]));
      expect(r).to.deep.equal({ status: 'ok', bytesWritten: 2 });
      const setIface = dev.transferLog.find((e) => e.setup?.bRequest === 0x0b)!;
      expect(setIface.setup).to.deep.include({ bmRequestType: 0x01, wValue: 1, wIndex: 1 });
    });

    it('an emulation callback that throws after a standard request fails that request; the default pipe keeps serving', async () => {
      const { dev } = await setup({
        alternateChanged: () => {
          throw new Error('emulation bug in alternateChanged');
        },
        onControl: (s) => (s.requestType === 'vendor' ? new Uint8Array([7]) : undefined),
      });
      await dev.claimInterface(1);
      expect((await rejection(dev.selectAlternateInterface(1, 1))).message).to.equal('emulation bug in alternateChanged');
      expect(bytes(await dev.controlTransferIn(vendorIn(1), 1))).to.deep.equal([7]);
    });
  });

  describe('endpoint checks', () => {
    it('rejects transfers on endpoints of unclaimed interfaces, out-of-range numbers, the wrong direction', async () => {
      const { dev } = await setup();
      await dev.releaseInterface(0);
      expect((await rejection(dev.transferIn(1, 64))).name).to.equal('NotFoundError');
      await dev.claimInterface(0);
      expect((await rejection(dev.transferIn(0, 64))).name).to.equal('IndexSizeError');
      expect((await rejection(dev.transferIn(16, 64))).name).to.equal('IndexSizeError');
      expect((await rejection(dev.transferOut(1, new Uint8Array(1)))).name).to.equal('NotFoundError');
      expect((await rejection(dev.transferIn(2, 64))).name).to.equal('NotFoundError');
      expect((await rejection(dev.clearHalt('in', 9))).name).to.equal('NotFoundError');
    });

    it('isochronous: the transfer methods are not supported, transferIn on an iso endpoint is refused', async () => {
      const { dev } = await setup();
      await dev.claimInterface(1);
      await dev.selectAlternateInterface(1, 1);
      expect((await rejection(dev.isochronousTransferIn(4, [256]))).name).to.equal('NotSupportedError');
      expect((await rejection(dev.isochronousTransferOut(4, new Uint8Array(1), [1]))).name).to.equal('NotSupportedError');
      expect((await rejection(dev.transferIn(4, 256))).name).to.equal('InvalidAccessError');
    });
  });

  describe('control transfers', () => {
    it('answers standard GET_DESCRIPTOR requests from the descriptors', async () => {
      const { dev } = await setup();
      const std = (value: number, index = 0): USBControlTransferParameters => ({
        requestType: 'standard',
        recipient: 'device',
        request: 6,
        value,
        index,
      });
      const d = await dev.controlTransferIn(std(0x0100), 18);
      expect(bytes(d)).to.deep.equal([...encodeDeviceDescriptor(dev.descriptor)]);
      const short = await dev.controlTransferIn(std(0x0100), 8);
      expect(bytes(short)).to.have.length(8);
      const cfgHead = await dev.controlTransferIn(std(0x0200), 9);
      expect(bytes(cfgHead).slice(0, 2)).to.deep.equal([9, 2]);
      const langs = await dev.controlTransferIn(std(0x0300), 255);
      expect(bytes(langs)).to.deep.equal([4, 3, 0x09, 0x04]);
      const product = await dev.controlTransferIn(std(0x0300 | dev.descriptor.iProduct, 0x0409), 255);
      expect(bytes(product)).to.deep.equal([14, 3, ...[...'Widget'].flatMap((c) => [c.charCodeAt(0), 0])]);
      expect((await dev.controlTransferIn(std(0x0309), 255)).status).to.equal('stall');
      expect((await dev.controlTransferIn(std(0x0600), 10)).status).to.equal('stall');
    });

    it('answers GET_STATUS, GET_CONFIGURATION and GET_INTERFACE', async () => {
      const { dev } = await setup();
      const r = (recipient: USBRecipient, request: number, index = 0, len = 2) =>
        dev.controlTransferIn({ requestType: 'standard', recipient, request, value: 0, index }, len);
      expect(bytes(await r('device', 0))).to.deep.equal([0, 0]);
      expect(bytes(await r('endpoint', 0, 0x81))).to.deep.equal([0, 0]);
      expect(bytes(await r('device', 8, 0, 1))).to.deep.equal([1]);
      expect(bytes(await r('interface', 0x0a, 0, 1))).to.deep.equal([0]);
    });

    it('passes vendor requests to the behaviour, stalls what nobody answers', async () => {
      const seen: [ControlSetup, number[] | undefined][] = [];
      const { dev } = await setup({
        onControl(s, data) {
          seen.push([s, data && [...data]]);
          if (s.requestType !== 'vendor') return undefined;
          if (s.bRequest === 0x90) return new Uint8Array([0xaa, 0xbb, 0xcc]);
          if (s.bRequest === 0x01) return 'ack';
          return undefined;
        },
      });
      const r = await dev.controlTransferIn(vendorIn(0x90, 0x12, 0x34), 2);
      expect(r.status).to.equal('ok');
      expect(bytes(r)).to.deep.equal([0xaa, 0xbb]); // cut to wLength
      const w = await dev.controlTransferOut({ ...vendorIn(0x01), value: 0x0101 }, new Uint8Array([7, 8]));
      expect(w).to.deep.equal({ status: 'ok', bytesWritten: 2 });
      expect((await dev.controlTransferIn(vendorIn(0x55), 1)).status).to.equal('stall');
      expect((await dev.controlTransferOut(vendorIn(0x55))).status).to.equal('stall');
      expect(seen[0][0]).to.deep.include({ bmRequestType: 0xc0, bRequest: 0x90, wValue: 0x12, wIndex: 0x34, wLength: 2 });
      expect(seen[0][0]).to.deep.include({ direction: 'in', requestType: 'vendor', recipient: 'device' });
      expect(seen[1][0]).to.deep.include({ bmRequestType: 0x40, wLength: 2 });
      expect(seen[1][1]).to.deep.equal([7, 8]);
    });

    it('checks recipients like WebUSB: interface must be claimed, endpoint must exist', async () => {
      const { dev } = await setup();
      const cls = (recipient: USBRecipient, index: number): USBControlTransferParameters => ({
        requestType: 'class',
        recipient,
        request: 0x20,
        value: 0,
        index,
      });
      expect((await rejection(dev.controlTransferOut(cls('interface', 1)))).name).to.equal('InvalidStateError');
      expect((await rejection(dev.controlTransferOut(cls('interface', 9)))).name).to.equal('NotFoundError');
      expect((await rejection(dev.controlTransferOut(cls('endpoint', 0x85)))).name).to.equal('NotFoundError');
      expect((await dev.controlTransferOut(cls('interface', 0))).status).to.equal('stall');
      expect((await rejection(dev.controlTransferIn({ ...cls('device', 0), requestType: 'bogus' as USBRequestType }, 1))).name).to.equal(
        'TypeError',
      );
      expect((await rejection(dev.controlTransferIn({ ...cls('device', 0), value: 0x10000 }, 1))).name).to.equal('TypeError');
    });

    it('serves control requests one at a time, in order, even when a handler is slow', async () => {
      const order: number[] = [];
      const { dev } = await setup({
        async onControl(s) {
          if (s.bRequest === 1) await sleep(20);
          order.push(s.bRequest);
          return 'ack' as const;
        },
      });
      await Promise.all([dev.controlTransferOut(vendorIn(1)), dev.controlTransferOut(vendorIn(2))]);
      expect(order).to.deep.equal([1, 2]);
    });
  });

  describe('IN transfers', () => {
    it('pends until the emulation produces data asynchronously (inReady)', async () => {
      let ready: Uint8Array | undefined;
      let ctx!: MockDeviceContext;
      const { dev } = await setup({
        bind: (c) => (ctx = c),
        onIn(ep) {
          if (ep !== 0x81 || !ready) return undefined;
          const r = ready;
          ready = undefined;
          return r;
        },
      });
      const p = track(dev.transferIn(1, 64));
      await sleep(10);
      expect(dev.pendingTransfers).to.equal(1);
      ctx.after(5, () => {
        ready = new Uint8Array([1, 2, 3]);
        ctx.inReady(0x81);
      });
      const r = await p;
      expect(r.status).to.equal('ok');
      expect(bytes(r)).to.deep.equal([1, 2, 3]);
    });

    it('collects full packets until a short one or the length is reached', async () => {
      const packets = [new Uint8Array(64).fill(1), new Uint8Array(64).fill(2), new Uint8Array(10).fill(3), new Uint8Array(64).fill(4)];
      const { dev } = await setup({ onIn: () => packets.shift() });
      const r = await dev.transferIn(1, 512);
      expect(r.data!.byteLength).to.equal(138);
      const r2 = await dev.transferIn(1, 64);
      expect(r2.data!.byteLength).to.equal(64);
    });

    it('reports babble when a packet overflows the transfer', async () => {
      const { dev } = await setup({ onIn: () => new Uint8Array(64).fill(9) });
      const r = await dev.transferIn(1, 16);
      expect(r.status).to.equal('babble');
      expect(r.data!.byteLength).to.equal(16);
    });

    it('queueIn sends injected data as one transfer, before the emulation', async () => {
      const { dev } = await setup({ onIn: () => new Uint8Array([0xee]) });
      dev.queueIn(0x81, new Uint8Array(64).fill(7));
      dev.queueIn(0x81, [1, 2]);
      expect(bytes(await dev.transferIn(1, 128))).to.deep.equal(new Array(64).fill(7)); // ended by a ZLP
      expect(bytes(await dev.transferIn(1, 64))).to.deep.equal([1, 2]);
      expect(bytes(await dev.transferIn(1, 64))).to.deep.equal([0xee]);
      expect(() => dev.queueIn(0x02, [1])).to.throw(/not an IN endpoint/);
    });

    it('times out with TimeoutError (device default and per transfer); partial data is delivered', async () => {
      let once = true;
      const { dev } = await setup(
        {
          onIn: (ep) => {
            if (ep === 0x83 && once) {
              once = false;
              return new Uint8Array(16).fill(5); // a full packet, then silence
            }
            return undefined;
          },
        },
        { transferTimeoutMs: 20 },
      );
      const t0 = performance.now();
      const err = await rejection(dev.transferIn(1, 64));
      expect(err.name).to.equal('TimeoutError');
      expect(transferErrorKind(err)).to.equal('timeout');
      expect(performance.now() - t0).to.be.greaterThanOrEqual(15);
      expect((await rejection(dev.transferIn(1, 64, { timeoutMs: 1 }))).name).to.equal('TimeoutError');
      const partial = await dev.transferIn(3, 64);
      expect(partial.status).to.equal('ok');
      expect(partial.data!.byteLength).to.equal(16);
      expect(dev.pendingTransfers).to.equal(0);
    });

    it('serves several pending IN transfers in submission order', async () => {
      let n = 0;
      const { dev } = await setup({ onIn: () => new Uint8Array([n++]) });
      const rs = await Promise.all([0, 1, 2, 3].map(() => dev.transferIn(1, 64)));
      expect(rs.map((r) => bytes(r)[0])).to.deep.equal([0, 1, 2, 3]);
    });
  });

  describe('OUT transfers', () => {
    it('hands data to the emulation in order; an async answer holds the transfer (NAK)', async () => {
      const got: number[][] = [];
      let release!: () => void;
      const { dev } = await setup({
        onOut(ep, data) {
          got.push([ep, ...data]);
          if (data[0] === 1) return new Promise<void>((r) => (release = r));
          return undefined;
        },
      });
      const a = dev.transferOut(2, new Uint8Array([1]));
      const b = dev.transferOut(2, new Uint8Array([2, 3]));
      await sleep(10);
      expect(got).to.deep.equal([[2, 1]]);
      expect(dev.pendingTransfers).to.equal(2);
      release();
      expect(await a).to.deep.equal({ status: 'ok', bytesWritten: 1 });
      expect(await b).to.deep.equal({ status: 'ok', bytesWritten: 2 });
      expect(got).to.deep.equal([[2, 1], [2, 2, 3]]);
    });

    it('accepts and discards when the behaviour has no onOut', async () => {
      const { dev } = await setup();
      expect(await dev.transferOut(2, new ArrayBuffer(3))).to.deep.equal({ status: 'ok', bytesWritten: 3 });
    });
  });

  describe('halts', () => {
    it('a stall halts the endpoint until clearHalt, as hardware does', async () => {
      const cleared: number[] = [];
      let stall = true;
      const { dev } = await setup({
        onOut: () => (stall ? 'stall' : undefined),
        haltCleared: (ep) => cleared.push(ep),
      });
      expect((await dev.transferOut(2, new Uint8Array([1]))).status).to.equal('stall');
      stall = false;
      expect(dev.isHalted(0x02)).to.equal(true);
      expect((await dev.transferOut(2, new Uint8Array([1]))).status).to.equal('stall');
      const status = await dev.controlTransferIn({ requestType: 'standard', recipient: 'endpoint', request: 0, value: 0, index: 0x02 }, 2);
      expect(bytes(status)).to.deep.equal([1, 0]);
      await dev.clearHalt('out', 2);
      expect(cleared).to.deep.equal([0x02]);
      expect((await dev.transferOut(2, new Uint8Array([1]))).status).to.equal('ok');
      const clear = dev.transferLog.find((e) => e.setup?.bRequest === 1)!;
      expect(clear.setup).to.deep.equal({ bmRequestType: 0x02, bRequest: 1, wValue: 0, wIndex: 0x02, wLength: 0 });
    });

    it('an IN stall from the emulation stalls every pending transfer on the endpoint', async () => {
      let ctx!: MockDeviceContext;
      const { dev } = await setup({ bind: (c) => (ctx = c) });
      const ps = [dev.transferIn(1, 64), dev.transferIn(1, 64)].map(track);
      await sleep(5);
      ctx.halt(0x81);
      for (const p of ps) expect((await p).status).to.equal('stall');
      expect((await dev.transferIn(1, 64)).status).to.equal('stall');
      await dev.clearHalt('in', 1);
      expect(dev.isHalted(0x81)).to.equal(false);
    });

    it('clearHalt rejects NetworkError when the device stalls the request', async () => {
      const { dev } = await setup({ onControl: (s) => (s.bRequest === 1 ? 'stall' : undefined) });
      expect((await rejection(dev.clearHalt('in', 1))).name).to.equal('NetworkError');
    });
  });

  describe('reset', () => {
    it('aborts pending transfers, clears halts and alternates, keeps claims, calls the hook', async () => {
      let resets = 0;
      const { dev } = await setup({ onOut: () => 'stall', reset: () => resets++ });
      await dev.claimInterface(1);
      await dev.selectAlternateInterface(1, 1);
      await dev.transferOut(2, new Uint8Array(1));
      const p = track(dev.transferIn(1, 64));
      await dev.reset();
      expect((await rejection(p)).name).to.equal('AbortError');
      expect(resets).to.equal(1);
      expect(dev.isHalted(0x02)).to.equal(false);
      expect(dev.configuration!.interfaces[1].alternate.alternateSetting).to.equal(0);
      expect(dev.claimedInterfaces).to.deep.equal([0, 1]);
    });

    it('needs an open device', async () => {
      const host = new MockUsbHost();
      const dev = new MockUsbDevice(spec);
      host.plug(dev);
      expect((await rejection(dev.reset())).name).to.equal('InvalidStateError');
    });
  });

  describe('transfers in flight', () => {
    it('with maxTransfersInFlight 1 a second transfer on an endpoint is refused, nusb-style', async () => {
      const { dev, hd } = await setup({}, {}, { maxTransfersInFlight: 1 });
      expect(hd.maxTransfersInFlight).to.equal(1);
      const first = track(dev.transferIn(1, 64));
      const err = await rejection(dev.transferIn(1, 64));
      expect(err).to.be.instanceOf(TransferLimitError);
      expect(err.message).to.match(/endpoint not found/);
      expect(transferErrorKind(err)).to.equal('other');
      dev.transferIn(3, 16).catch(() => {}); // another endpoint is fine
      await dev.close();
      await rejection(first);
    });

    it('with the default (4, libusb-like) many may be pending', async () => {
      const { dev, hd } = await setup();
      expect(hd.maxTransfersInFlight).to.equal(4);
      const ps = Array.from({ length: 8 }, () => track(dev.transferIn(1, 64)));
      expect(dev.pendingOn(0x81)).to.equal(8);
      await dev.close();
      for (const p of ps) await rejection(p);
    });
  });

  describe('transfer log', () => {
    it('records kind, setup, endpoint, data, status, errors and timestamps', async () => {
      const { dev } = await setup({
        onIn: (ep) => (ep === 0x81 ? new Uint8Array([9, 8]) : undefined),
        onControl: (s) => (s.requestType === 'vendor' ? new Uint8Array([1]) : undefined),
      });
      dev.clearTransferLog();
      await dev.controlTransferIn(vendorIn(5, 6, 7), 4);
      await dev.transferOut(2, new Uint8Array([1, 2, 3]));
      await dev.transferIn(1, 64);
      await rejection(dev.transferIn(3, 16, { timeoutMs: 1 }));
      const log = dev.transferLog;
      expect(log.map((e) => e.kind)).to.deep.equal(['control-in', 'bulk-out', 'bulk-in', 'interrupt-in']);
      expect(log[0]).to.deep.include({ endpoint: 0x80, status: 'ok', length: 4 });
      expect(log[0].setup).to.deep.equal({ bmRequestType: 0xc0, bRequest: 5, wValue: 6, wIndex: 7, wLength: 4 });
      expect([...log[0].data!]).to.deep.equal([1]);
      expect(log[1]).to.deep.include({ endpoint: 0x02, status: 'ok', bytes: 3 });
      expect([...log[1].data!]).to.deep.equal([1, 2, 3]);
      expect(log[2]).to.deep.include({ endpoint: 0x81, status: 'ok', length: 64, bytes: 2 });
      expect([...log[2].data!]).to.deep.equal([9, 8]);
      expect(log[3]).to.deep.include({ endpoint: 0x83, length: 16 });
      expect(log[3].error).to.deep.include({ name: 'TimeoutError' });
      for (const e of log) {
        expect(e.end).to.be.a('number');
        expect(e.end!).to.be.at.least(e.start);
      }
      expect(log.map((e) => e.seq)).to.deep.equal([...log.map((e) => e.seq)].sort((a, b) => a - b));
    });

    it('records rejections with the error name', async () => {
      const { dev, host } = await setup();
      dev.clearTransferLog();
      const p = track(dev.transferIn(1, 64));
      host.unplug(dev);
      await rejection(p);
      const [e] = dev.transferLog;
      expect(e.error).to.deep.include({ name: 'NotFoundError' });
      expect(e.status).to.equal(undefined);
    });

    it('is bounded: the newest entries win and the dropped ones are counted', async () => {
      const { dev } = await setup({}, { transferLog: { limit: 5 } });
      dev.clearTransferLog();
      for (let i = 0; i < 12; i++) await dev.transferOut(2, new Uint8Array([i]));
      const log = dev.transferLog;
      expect(log).to.have.length(5);
      expect(log.map((e) => e.data![0])).to.deep.equal([7, 8, 9, 10, 11]);
      expect(dev.transfers.dropped).to.equal(7);
      dev.transfers.limit = 2; // lowering it trims at once
      expect(dev.transferLog.map((e) => e.data![0])).to.deep.equal([10, 11]);
      expect(dev.transfers.dropped).to.equal(10);
      dev.transfers.limit = 0; // off
      await dev.transferOut(2, new Uint8Array([1]));
      expect(dev.transferLog).to.have.length(0);
      dev.clearTransferLog();
      expect(dev.transferLog).to.deep.equal([]);
    });

    it('can leave data out (captureData: false) and still count bytes', async () => {
      const { dev } = await setup({}, { transferLog: { captureData: false } });
      dev.clearTransferLog();
      await dev.transferOut(2, new Uint8Array(10));
      expect(dev.transferLog[0].data).to.equal(undefined);
      expect(dev.transferLog[0].bytes).to.equal(10);
    });
  });

  describe('lifecycle hooks', () => {
    it('calls bind, plugged, configurationChanged, opened, closed, unplugged in order', async () => {
      const calls: string[] = [];
      const b: MockBehaviour = {
        bind: () => calls.push('bind'),
        plugged: () => calls.push('plugged'),
        configurationChanged: (v) => calls.push(`config ${v}`),
        opened: () => calls.push('opened'),
        closed: () => calls.push('closed'),
        unplugged: (ctx) => calls.push(`unplugged ${ctx.plugged}`),
        alternateChanged: (i, a) => calls.push(`alt ${i}=${a}`),
      };
      const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
      const dev = new MockUsbDevice(spec, b);
      host.plug(dev);
      await dev.open();
      await dev.claimInterface(1);
      await dev.selectAlternateInterface(1, 1);
      await dev.close();
      host.unplug(dev);
      expect(calls).to.deep.equal(['bind', 'plugged', 'config 1', 'opened', 'alt 1=1', 'closed', 'unplugged false']);
    });

    it('ctx timers die with the power', async () => {
      let ctx!: MockDeviceContext;
      let ticks = 0;
      const host = new MockUsbHost();
      const dev = new MockUsbDevice(spec, { bind: (c) => (ctx = c) });
      host.plug(dev);
      ctx.every(2, () => ticks++);
      await sleep(15);
      host.unplug(dev);
      const seen = ticks;
      expect(seen).to.be.greaterThan(0);
      await sleep(15);
      expect(ticks).to.equal(seen);
    });
  });
});
