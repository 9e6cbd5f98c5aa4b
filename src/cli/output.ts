// Output helpers: plain lines for people, JSON for tools.
export interface Output {
  json: boolean;
  line(text: string): void;
  data(value: unknown): void;
}

export function output(json: boolean): Output {
  return {
    json,
    line: (text) => void process.stdout.write(`${text}\n`),
    data: (value) => void process.stdout.write(`${JSON.stringify(value)}\n`),
  };
}

export const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** Pads columns of a small table for a terminal. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

/** 1048576, '1MiB', '64k', '2M' -> bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(k|ki|kib|kb|m|mi|mib|mb|g|gi|gib|gb)?$/i.exec(text.trim());
  if (!m) throw new Error(`size '${text}' is not a number of bytes (e.g. 65536, 64k, 1MiB)`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1048576 : unit === 'g' ? 1073741824 : 1;
  return Math.round(Number(m[1]) * mult);
}
