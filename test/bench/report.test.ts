import { expect } from 'chai';
import { interleave, median, roundRatios, spread } from '../../bench/report.ts';

describe('bench/report', () => {
  it('median takes the middle value, the mean of the two middle ones for an even count, NaN for none', () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([])).to.be.NaN;
  });

  it('spread gives median, min, max and the number of rounds', () => {
    expect(spread([1.23456, 3, 2], 2)).to.deep.equal({ value: 2, min: 1.23, max: 3, rounds: 3 });
  });

  it('roundRatios takes each round\'s ratio, then their median (not the ratio of medians)', () => {
    // Round 2 ran under load on both sides: its ratio is as good as the others.
    const candidate = [110, 55, 120];
    const reference = [100, 50, 100];
    expect(roundRatios(candidate, reference)).to.deep.equal({ value: 1.1, min: 1.1, max: 1.2, rounds: 3 });
    expect(() => roundRatios([1, 2], [1])).to.throw(RangeError, /as many candidate rounds as reference rounds/);
    expect(() => roundRatios([], [])).to.throw(RangeError);
  });

  it('interleave runs the steps in turn, round by round', async () => {
    const order: string[] = [];
    const step = (name: string) => async () => {
      order.push(name);
      return order.length;
    };
    const out = await interleave(3, { a: step('a'), b: step('b') });
    expect(order).to.deep.equal(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(out).to.deep.equal({ a: [1, 3, 5], b: [2, 4, 6] });
  });
});
