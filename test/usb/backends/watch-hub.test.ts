import { expect } from 'chai';
import { log } from '../../../src/log.ts';
import { WatchHub } from '../../../src/usb/backends/watch-hub.ts';

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
