// Benchmarks print one JSON line per figure: {"name","value","unit"} (+ optional context).
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  [extra: string]: unknown;
}

export function emit(result: BenchResult): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median, min and max of a figure over rounds, rounded for printing. */
export interface Spread {
  value: number;
  min: number;
  max: number;
  rounds: number;
}

export function spread(xs: readonly number[], digits = 3): Spread {
  return { value: round(median(xs), digits), min: round(Math.min(...xs), digits), max: round(Math.max(...xs), digits), rounds: xs.length };
}

/**
 * Ratios measured fairly on a shared machine: the candidate and the reference run in alternation
 * (A B A B ...), each round's ratio is taken within the round, and the figure is the median of
 * those per-round ratios with their min and max. Drift in machine load between rounds then
 * cancels out instead of landing on one side.
 */
export function roundRatios(candidate: readonly number[], reference: readonly number[], digits = 3): Spread {
  if (candidate.length !== reference.length || candidate.length === 0) {
    throw new RangeError(`per-round ratios need as many candidate rounds as reference rounds (got ${candidate.length} and ${reference.length})`);
  }
  return spread(candidate.map((c, i) => c / reference[i]!), digits);
}

/**
 * Runs `rounds` rounds, each calling every step in turn (A B C A B C ...), and returns each
 * step's results in round order.
 */
export async function interleave<K extends string, T>(rounds: number, steps: Record<K, () => Promise<T>>): Promise<Record<K, T[]>> {
  const keys = Object.keys(steps) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as T[]])) as Record<K, T[]>;
  for (let i = 0; i < rounds; i++) for (const k of keys) out[k].push(await steps[k]());
  return out;
}
