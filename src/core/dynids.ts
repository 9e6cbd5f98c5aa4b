// Dynamic IDs (Linux: new_id / remove_id). Storage per driver, plus the strict hex-field
// parser every bus type uses for its own ID syntax.
import { IdParseError } from './errors.ts';

export class DynIdList<Id> {
  private readonly ids: Id[] = [];

  get size(): number {
    return this.ids.length;
  }

  list(): readonly Id[] {
    return this.ids;
  }

  add(id: Id): void {
    this.ids.push(id);
  }

  /** Removes every ID the predicate selects; returns them. */
  remove(select: (id: Id) => boolean): Id[] {
    const removed: Id[] = [];
    for (let i = this.ids.length - 1; i >= 0; i--) {
      if (select(this.ids[i] as Id)) removed.unshift(...this.ids.splice(i, 1));
    }
    return removed;
  }

  /** Frees all of them (unregistration, failed registration). */
  clear(): Id[] {
    return this.ids.splice(0, this.ids.length);
  }
}

export interface HexField {
  readonly name: string;
  /** Largest allowed value, e.g. 0xffff for a 16-bit ID, 0xff for a class. */
  readonly max: number;
}

/**
 * Parses whitespace-separated hex fields strictly: `required` fields must be there, up to
 * `fields.length` may be; each must be hex (an optional 0x prefix) and within its field's range.
 * The error names the problem: too few, too many, not hex, out of range.
 */
export function parseHexFields(text: string, fields: readonly HexField[], required: number): number[] {
  const words = text.trim().split(/\s+/).filter((w) => w.length > 0);
  const expected =
    required === fields.length ? `${required}` : `${required} to ${fields.length}`;
  const names = fields.map((f) => f.name).join(' ');
  if (words.length < required) {
    throw new IdParseError(text, `too few fields: got ${words.length}, expected ${expected} (${names})`);
  }
  if (words.length > fields.length) {
    throw new IdParseError(text, `too many fields: got ${words.length}, expected ${expected} (${names})`);
  }
  return words.map((w, i) => {
    const field = fields[i] as HexField;
    if (!/^(0x)?[0-9a-f]+$/i.test(w)) {
      throw new IdParseError(text, `${field.name} '${w}' is not hex`);
    }
    const v = Number.parseInt(w.replace(/^0x/i, ''), 16);
    if (!Number.isSafeInteger(v) || v > field.max) {
      throw new IdParseError(text, `${field.name} 0x${w.replace(/^0x/i, '')} is out of range (max 0x${field.max.toString(16)})`);
    }
    return v;
  });
}
