import { expect } from 'chai';
import { transferErrorKind } from '../../../src/usb/host.ts';
import { log } from '../../../src/log.ts';
import {
  ConfigurationTracker,
  KeyedSerializer,
  PendingTransfers,
  WatchHub,
  describeSetup,
  inOk,
  toBytes,
  usbError,
} from '../../../src/usb/backends/normalize.ts';
import { tick } from './fake-libusb.ts';

const CONFIG: USBConfiguration = {
  configurationValue: 1,
  configurationName: null,
  interfaces: [0, 1].map((n) => {
    const alt = (s: number): USBAlternateInterface => ({
      alternateSetting: s,
      interfaceClass: 0xff,
      interfaceSubclass: 0,
      interfaceProtocol: 0,
      interfaceName: null,
      endpoints: [{ endpointNumber: n * 2 + 1 + s * 4, direction: 'in', type: 'bulk', packetSize: 64 }],
    });
    return { interfaceNumber: n, alternate: alt(0), alternates: [alt(0), alt(1)], claimed: false };
  }),
};

describe('backend normalisation helpers', () => {
  it('usbError gives the names host.ts classifies, with the cause kept', () => {
    const cause = new Error('native');
    expect(transferErrorKind(usbError('NotFoundError', 'gone', cause))).to.equal('disconnected');
    expect(transferErrorKind(usbError('TimeoutError', 'slow'))).to.equal('timeout');
    expect(transferErrorKind(usbError('AbortError', 'cut'))).to.equal('aborted');
    expect(transferErrorKind(usbError('InvalidStateError', 'closed'))).to.equal('other');
    expect((usbError('NetworkError', 'x', cause) as Error & { cause?: unknown }).cause).to.equal(cause);
  });

  it('inOk and toBytes keep the view offset', () => {
    const backing = new Uint8Array([0, 1, 2, 3, 4]);
    const r = inOk(backing.subarray(1, 3));
    expect(r.data?.byteLength).to.equal(2);
    expect(r.data?.getUint8(0)).to.equal(1);
    const dv = new DataView(backing.buffer, 2, 2);
    expect([...toBytes(dv)]).to.deep.equal([2, 3]);
    expect(toBytes(undefined).byteLength).to.equal(0);
    expect(toBytes(new ArrayBuffer(3)).byteLength).to.equal(3);
  });

  it('describeSetup names a control request for messages', () => {
    expect(describeSetup({ requestType: 'vendor', recipient: 'device', request: 0x40, value: 1, index: 0 })).to.equal(
      'vendor/device request 0x40 value 0x0001 index 0x0000',
    );
  });

  describe('ConfigurationTracker', () => {
    it('reflects claims and alternates, keeping view identity until a change', () => {
      const t = new ConfigurationTracker([CONFIG], 1);
      const v1 = t.configuration;
      expect(t.configuration).to.equal(v1);
      expect(t.findEndpoint('in', 1)).to.equal(undefined, 'nothing claimed yet');
      t.claim(0);
      expect(t.configuration).to.not.equal(v1);
      expect(t.configuration?.interfaces[0]?.claimed).to.equal(true);
      expect(t.findEndpoint('in', 1)?.interfaceNumber).to.equal(0);
      t.selectAlternate(0, 1);
      expect(t.configuration?.interfaces[0]?.alternate.alternateSetting).to.equal(1);
      expect(t.findEndpoint('in', 1)).to.equal(undefined);
      expect(t.findEndpoint('in', 5)?.interfaceNumber).to.equal(0);
      t.release(0);
      expect(t.configuration?.interfaces[0]?.claimed).to.equal(false);
      expect(t.configuration?.interfaces[0]?.alternate.alternateSetting).to.equal(0);
    });
    it('is unconfigured when no configuration is active', () => {
      const t = new ConfigurationTracker([CONFIG], null);
      expect(t.configuration).to.equal(null);
      expect(t.configurations).to.have.length(1);
      t.selectConfiguration(1);
      expect(t.configuration?.configurationValue).to.equal(1);
    });
  });

  describe('PendingTransfers', () => {
    it('with an abort hook, waits for the transfer to settle through it', async () => {
      const p = new PendingTransfers();
      let cancelled = false;
      const t = p.track(0, (onAbort) => {
        return new Promise<string>((_, reject) => {
          onAbort((reason) => {
            cancelled = true;
            setTimeout(() => reject(reason), 5);
          });
        });
      });
      const caught = t.catch((e: Error) => e);
      const settled = await p.abort(0, () => usbError('AbortError', 'released'));
      expect(settled).to.equal(true);
      expect(cancelled).to.equal(true);
      expect(transferErrorKind(await caught)).to.equal('aborted');
      expect(p.size).to.equal(0);
    });
    it('without a hook, rejects the caller at once', async () => {
      const p = new PendingTransfers();
      const t = p.track(1, () => new Promise<never>(() => undefined));
      const caught = t.catch((e: Error) => e);
      await p.abort(undefined, () => usbError('AbortError', 'closed'), 0);
      expect((await caught).name).to.equal('AbortError');
    });
    it('aborts only the interface asked for', async () => {
      const p = new PendingTransfers();
      let resolveOther!: (v: string) => void;
      const other = p.track(2, () => new Promise<string>((r) => (resolveOther = r)));
      const mine = p.track(1, () => new Promise<never>(() => undefined)).catch((e: Error) => e.name);
      await p.abort(1, () => usbError('AbortError', 'released'), 0);
      expect(await mine).to.equal('AbortError');
      resolveOther('data');
      expect(await other).to.equal('data');
    });
    it('a synchronous throw in start becomes a rejection', async () => {
      const p = new PendingTransfers();
      const t = p.track(0, () => {
        throw new Error('submit failed');
      });
      expect(await t.catch((e: Error) => e.message)).to.equal('submit failed');
    });
  });

  it('KeyedSerializer runs jobs one at a time per key, in order, across failures', async () => {
    const s = new KeyedSerializer();
    const order: string[] = [];
    const job = (name: string, fail = false) => async () => {
      order.push(`start ${name}`);
      await tick();
      order.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([s.run('a', job('1', true)), s.run('a', job('2')), s.run('b', job('3'))]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'fulfilled', 'fulfilled']);
    expect(order.indexOf('start 2')).to.be.greaterThan(order.indexOf('end 1'));
    expect(order.indexOf('start 3')).to.be.lessThan(order.indexOf('end 1'));
  });

  describe('WatchHub', () => {
    it('starts once, keeps event order through async jobs, stops after the last listener', async () => {
      const calls: string[] = [];
      const hub = new WatchHub(
        async () => {
          calls.push('start');
        },
        async () => {
          calls.push('stop');
        },
        log,
      );
      const got: string[] = [];
      const dev = { key: 'k', usb: {} as USBDevice, maxTransfersInFlight: 1 };
      const s1 = await hub.add((e) => got.push(`a ${e.type}`));
      const s2 = await hub.add((e) => got.push(`b ${e.type}`));
      hub.enqueue(async () => {
        await new Promise((r) => setTimeout(r, 10));
        return { type: 'connect', device: dev };
      });
      hub.enqueue(() => ({ type: 'disconnect', device: dev }));
      await hub.drain();
      expect(got).to.deep.equal(['a connect', 'b connect', 'a disconnect', 'b disconnect']);
      s1();
      s1();
      s2();
      await hub.close();
      expect(calls).to.deep.equal(['start', 'stop']);
    });
    it('a failed start rejects add() and a later add() tries again', async () => {
      let n = 0;
      const hub = new WatchHub(
        async () => {
          if (++n === 1) throw new Error('no netlink');
        },
        async () => undefined,
        log,
      );
      expect(await hub.add(() => undefined).catch((e: Error) => e.message)).to.equal('no netlink');
      const stop = await hub.add(() => undefined);
      expect(hub.active).to.equal(true);
      stop();
      expect(hub.active).to.equal(false);
    });
  });
});
