// What a chip driver implements for a port's I/O. The port (port.ts) keeps the state machine,
// the user-facing API and the events; the chip driver only speaks to its chip.
import type { AppliedSettings, ModemLines, OutputSignals, SerialSettings, LineError } from './settings.ts';
import type { UsbSerialPort } from './port.ts';

/** How the chip driver hands received data and line changes to the port. */
export interface PortSink {
  /** Bytes from the line, with the line errors found among them (positions into `data`). */
  data(data: Uint8Array, errors: readonly LineError[]): void;
  /** The modem input lines, whenever the chip reports them (the port emits changes only). */
  modem(lines: ModemLines): void;
  /** The read side failed for good (the device went away): the port closes with this error. */
  failed(error: unknown): void;
}

export interface PortOperations {
  /** Sets the chip up for this port, applies settings, starts reading into `sink`. */
  open(port: UsbSerialPort, settings: SerialSettings, sink: PortSink): Promise<AppliedSettings>;
  /**
   * Stops reading and lets the chip go. With `hupcl` (termios HUPCL, the default) DTR and RTS
   * drop, as Linux's tty_port_shutdown calls dtr_rts(0) only when C_HUPCL is set.
   */
  close(port: UsbSerialPort, options?: { hupcl: boolean }): Promise<void>;
  /** Applies new line settings to an open port. Refuses what the chip cannot do (typed error). */
  setSettings(port: UsbSerialPort, settings: SerialSettings): Promise<AppliedSettings>;
  setSignals(port: UsbSerialPort, signals: OutputSignals): Promise<void>;
  getModemLines(port: UsbSerialPort): Promise<ModemLines>;
  /** Discards the chip's buffers: `rx` what was received and not read, `tx` what was not sent. */
  purge(port: UsbSerialPort, what: { rx: boolean; tx: boolean }): Promise<void>;
  /** Sends bytes (any length; the driver splits and frames them). Resolves when the chip took them. */
  write(port: UsbSerialPort, data: Uint8Array): Promise<void>;
  /** Pauses / resumes reading from the chip (backpressure). */
  pauseReading?(port: UsbSerialPort): void;
  resumeReading?(port: UsbSerialPort): void;
}
