// Line-setting options shared by console and loopback.
import type { Command } from 'commander';
import type { SerialSettings } from '../index.ts';
import { CliError, EXIT } from './errors.ts';

export function addLineOptions(cmd: Command): Command {
  return cmd
    .option('-b, --baud <rate>', 'baud rate', '115200')
    .option('--data-bits <n>', 'data bits: 5, 6, 7 or 8', '8')
    .option('--parity <p>', 'none, odd, even, mark or space', 'none')
    .option('--stop-bits <n>', 'stop bits: 1, 1.5 or 2', '1')
    .option('--flow <f>', 'flow control: none, rts-cts, dtr-dsr or xon-xoff', 'none');
}

export interface LineOptionValues {
  baud: string;
  dataBits: string;
  parity: string;
  stopBits: string;
  flow: string;
}

/** Parses the option strings; the port checks what its chip can do. */
export function lineSettings(o: LineOptionValues): Partial<SerialSettings> {
  const num = (v: string, what: string) => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new CliError(`${what} '${v}' is not a number`, EXIT.usage);
    return n;
  };
  return {
    baudRate: num(o.baud, 'baud rate'),
    dataBits: num(o.dataBits, 'data bits') as SerialSettings['dataBits'],
    parity: o.parity as SerialSettings['parity'],
    stopBits: num(o.stopBits, 'stop bits') as SerialSettings['stopBits'],
    flowControl: o.flow as SerialSettings['flowControl'],
  };
}
