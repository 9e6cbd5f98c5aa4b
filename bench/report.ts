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
