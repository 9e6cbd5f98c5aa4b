import { expect } from 'chai';
import { channelScheduler, nextMacrotask, runSoon } from '../../mocks/macrotask.ts';

describe('mocks/macrotask: the lab\'s later-turn scheduling, in Node and in a browser', () => {
  it('runSoon runs after the promise jobs already queued, in the order posted', async () => {
    const seen: string[] = [];
    runSoon(() => seen.push('a'));
    void Promise.resolve().then(() => seen.push('job'));
    runSoon(() => seen.push('b'));
    await nextMacrotask();
    expect(seen).to.deep.equal(['job', 'a', 'b']);
  });

  it('the MessageChannel scheduler (what a browser gets) keeps the same order without setImmediate', async () => {
    const post = channelScheduler();
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      post(() => seen.push('a'));
      void Promise.resolve().then(() => seen.push('job'));
      post(() => seen.push('b'));
      post(() => resolve());
    });
    await done;
    expect(seen).to.deep.equal(['job', 'a', 'b']);
  });
});
