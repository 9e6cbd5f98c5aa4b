import { expect } from 'chai';
import { AsyncMutex, KeyedMutex } from '../../src/core/mutex.ts';
import { macrotask } from '../helpers/async.ts';


/** Jobs that record when they start and end, across a macrotask; `fail` makes one reject. */
const recorder =
  (order: string[]) =>
  (name: string, fail = false) =>
  async (): Promise<string> => {
    order.push(`start ${name}`);
    await macrotask();
    order.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  };

describe('AsyncMutex and KeyedMutex', () => {
  it('AsyncMutex runs jobs one at a time, in order; a failure reaches only its caller', async () => {
    const m = new AsyncMutex();
    const order: string[] = [];
    const job = recorder(order);
    const a = m.run(job('1', true));
    const b = m.run(job('2'));
    expect(m.locked).to.equal(true);
    const results = await Promise.allSettled([a, b]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'fulfilled']);
    expect(order).to.deep.equal(['start 1', 'end 1', 'start 2', 'end 2']);
    await m.idle();
    expect(m.locked).to.equal(false);
  });

  it('KeyedMutex runs jobs one at a time per key, in order, across failures', async () => {
    const s = new KeyedMutex<string>();
    const order: string[] = [];
    const job = recorder(order);
    const results = await Promise.allSettled([s.run('a', job('1', true)), s.run('a', job('2')), s.run('b', job('3'))]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'fulfilled', 'fulfilled']);
    expect(order.indexOf('start 2')).to.be.greaterThan(order.indexOf('end 1'));
    expect(order.indexOf('start 3')).to.be.lessThan(order.indexOf('end 1'));
  });

  it('KeyedMutex forgets a key once its last job finished; idle() waits for every key', async () => {
    const s = new KeyedMutex<string>();
    let done = 0;
    void s.run('a', async () => {
      await macrotask();
      done++;
    });
    void s.run('b', async () => {
      await macrotask();
      await macrotask();
      done++;
    });
    expect(s.size).to.equal(2);
    while (s.size > 0) await s.idle();
    expect(done).to.equal(2);
  });
});
