// The CP210x embedded-event stream (EMBED_EVENTS, 0x15, with escape 0xEC): bulk IN data with line
// status inserted after an escape byte, parsed as Linux's `cp210x_process_char` and
// `cp210x_process_lsr` do. The parser keeps its state between packets: an escape sequence may be
// split over two bulk transfers.
//   ESC 0x00          a data byte equal to ESC
//   ESC 0x01 LSR DATA a data byte received with the errors LSR names
//   ESC 0x02 LSR      line status without data (overrun inserts a NUL; other errors are counted)
//   ESC 0x03 MSR      modem status (Linux parses and ignores it; returned here for the driver)

/** LSR bits of an event (`CP210X_LSR_*`). */
export const CP210X_LSR = Object.freeze({ OVERRUN: 0x02, PARITY: 0x04, FRAME: 0x08, BREAK: 0x10 } as const);

export const CP210X_ESCAPE_CHAR = 0xec;

export type Cp210xByteFlag = 'none' | 'break' | 'parity' | 'framing' | 'overrun';

export interface Cp210xEventCounts {
  brk: number;
  parity: number;
  frame: number;
  overrun: number;
  /** Escape sequences with an event code Linux does not know (logged and skipped there). */
  unknownEvents: number;
  /** MSR events seen (ignored). */
  modemStatus: number;
}

export interface Cp210xParsed {
  readonly data: Uint8Array;
  /** One flag per byte of `data` (a TTY flag in Linux's terms). */
  readonly flags: readonly Cp210xByteFlag[];
  /** MSR bytes of the modem-status events in the packet, in order (Linux drops them). */
  readonly modem: readonly number[];
}

type State = 'data' | 'escape' | 'lsr' | 'lsr-data' | 'lsr-data-byte' | 'msr';

/** Flag precedence: break, then parity, then framing (`cp210x_process_lsr`). */
export function cp210xLsrFlag(lsr: number): Cp210xByteFlag {
  if (lsr & CP210X_LSR.BREAK) return 'break';
  if (lsr & CP210X_LSR.PARITY) return 'parity';
  if (lsr & CP210X_LSR.FRAME) return 'framing';
  return 'none';
}

export class Cp210xEventParser {
  readonly counts: Cp210xEventCounts = { brk: 0, parity: 0, frame: 0, overrun: 0, unknownEvents: 0, modemStatus: 0 };
  private state: State = 'data';
  private lsr = 0;

  constructor(readonly escape = CP210X_ESCAPE_CHAR) {}

  /** Back to plain data (event mode switched on again, or the port reopened). */
  reset(): void {
    this.state = 'data';
    this.lsr = 0;
  }

  parse(packet: Uint8Array): Cp210xParsed {
    const data: number[] = [];
    const flags: Cp210xByteFlag[] = [];
    const modem: number[] = [];
    const put = (b: number, f: Cp210xByteFlag) => {
      data.push(b);
      flags.push(f);
    };
    for (const ch of packet) {
      switch (this.state) {
        case 'data':
          if (ch === this.escape) this.state = 'escape';
          else put(ch, 'none');
          break;
        case 'escape':
          if (ch === 0x00) {
            put(this.escape, 'none');
            this.state = 'data';
          } else if (ch === 0x01) this.state = 'lsr-data';
          else if (ch === 0x02) this.state = 'lsr';
          else if (ch === 0x03) this.state = 'msr';
          else {
            this.counts.unknownEvents++;
            this.state = 'data';
          }
          break;
        case 'lsr':
          this.processLsr(ch, put);
          this.state = 'data';
          break;
        case 'lsr-data':
          this.lsr = ch;
          this.state = 'lsr-data-byte';
          break;
        case 'lsr-data-byte':
          put(ch, this.processLsr(this.lsr, put));
          this.state = 'data';
          break;
        case 'msr':
          this.counts.modemStatus++;
          modem.push(ch);
          this.state = 'data';
          break;
      }
    }
    return { data: Uint8Array.from(data), flags, modem };
  }

  /** Counts the errors, inserts a NUL flagged overrun for an overrun, returns the byte's flag. */
  private processLsr(lsr: number, put: (b: number, f: Cp210xByteFlag) => void): Cp210xByteFlag {
    const flag = cp210xLsrFlag(lsr);
    if (flag === 'break') this.counts.brk++;
    else if (flag === 'parity') this.counts.parity++;
    else if (flag === 'framing') this.counts.frame++;
    if (lsr & CP210X_LSR.OVERRUN) {
      this.counts.overrun++;
      put(0, 'overrun');
    }
    return flag;
  }
}
