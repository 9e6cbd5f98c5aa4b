// What an FTDI port can do beyond the common port API: latency timer, event and error
// characters, both status bytes.
import { PortDisconnectedError, UsbSerialPort } from '../../src/serial/driver-api.ts';
import { FtdiPortError, FtdiUnsupportedError } from './errors.ts';
import { ftdiChipOf, ftdiDriver, ftdiIn, ftdiOut } from './driver.ts';
import type { FtdiChip } from './chips.ts';
import { encodeErrorChar, encodeEventChar, encodeGetLatencyTimer, encodeGetModemStatus, encodeSetLatencyTimer, type FtdiControlSetup } from './requests.ts';
import { parseFtdiLineStatus, parseFtdiModemStatus, type FtdiLineStatus, type FtdiModemStatus } from './status.ts';

export interface FtdiPortControl {
  readonly chip: FtdiChip;
  /** wIndex channel (1.. on channelised chips, else 0). */
  readonly channel: number;
  readonly interfaceNumber: number;
  readonly maxPacketSize: number;
  /** The latency timer in ms (reads the chip). */
  getLatencyTimer(): Promise<number>;
  /** Sets the latency timer, 1..255 ms (not on SIO or FT232AM). */
  setLatencyTimer(ms: number): Promise<void>;
  /** Event character: the chip sends its buffer as soon as it receives it. null turns it off. */
  setEventChar(char: number | null): Promise<void>;
  /** Error character: put in place of bytes received with a parity or framing error. null turns it off. */
  setErrorChar(char: number | null): Promise<void>;
  /** GET_MODEM_STATUS: both status bytes (the SIO has no line status). */
  getStatus(): Promise<{ modem: FtdiModemStatus; line: FtdiLineStatus | undefined }>;
}

/** The FTDI-specific controls of a port bound to ftdi_sio. */
export function ftdiPort(port: UsbSerialPort): FtdiPortControl {
  const chip = port instanceof UsbSerialPort && port.serial.type.spec === ftdiDriver ? ftdiChipOf(port) : undefined;
  if (!chip) throw new FtdiPortError(`${String((port as { name?: unknown })?.name)} is not an ftdi_sio port`);
  const a = chip.adapter;
  const live = () => {
    if (port.gone) throw new PortDisconnectedError(port.name);
    return chip.control;
  };
  const noLatency = () => new FtdiUnsupportedError(`${a.chip} has no latency timer (its receive timeout is fixed at ${a.latencyMs} ms)`);
  return {
    chip: a.chip,
    channel: a.channel,
    interfaceNumber: a.interfaceNumber,
    maxPacketSize: a.maxPacketSize,
    async getLatencyTimer() {
      if (!a.info.hasLatencyTimer) return a.latencyMs;
      const ms = (await ftdiIn(live(), a, encodeGetLatencyTimer(a.channel), port))[0]!;
      a.latencyMs = ms;
      return ms;
    },
    async setLatencyTimer(ms) {
      if (!a.info.hasLatencyTimer) throw noLatency();
      let setup: FtdiControlSetup;
      try {
        setup = encodeSetLatencyTimer(ms, a.channel);
      } catch (err) {
        throw new RangeError((err as Error).message);
      }
      await ftdiOut(live(), a, setup, port);
      a.latencyMs = ms;
    },
    async setEventChar(char) {
      await ftdiOut(live(), a, encodeEventChar(char ?? 0, char !== null, a.channel), port);
    },
    async setErrorChar(char) {
      await ftdiOut(live(), a, encodeErrorChar(char ?? 0, char !== null, a.channel), port);
    },
    async getStatus() {
      const sio = a.info.clock === 'sio';
      const data = await ftdiIn(live(), a, encodeGetModemStatus(a.channel, sio), port);
      return { modem: parseFtdiModemStatus(data[0]!), line: sio ? undefined : parseFtdiLineStatus(data[1]!) };
    },
  };
}
