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

/** A whole number with thousands separators: 115385 -> '115,385'. */
export const grouped = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * A baud rate as people read it: the chip's actual rate rounded to a whole baud, and the
 * requested one when the chip cannot hit it exactly ('115,385 baud (115,200 requested)').
 */
export function formatBaud(actual: number, requested?: number): string {
  const shown = `${grouped(actual)} baud`;
  return requested !== undefined && Math.round(actual) !== requested ? `${shown} (${grouped(requested)} requested)` : shown;
}

/** A data rate: '2,588 KiB/s', '11.2 KiB/s', '900 B/s'. */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond < 1024) return `${grouped(bytesPerSecond)} B/s`;
  const kib = bytesPerSecond / 1024;
  return kib < 100 ? `${kib.toFixed(1)} KiB/s` : `${grouped(kib)} KiB/s`;
}

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
