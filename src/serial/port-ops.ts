// What a chip driver implements for a port's I/O. The port (port.ts) keeps the state machine,
// the user-facing API and the events; the chip driver only speaks to its chip. Drivers built on
// the generic layer (generic/driver.ts) get all of this from their chip ops table.
import type { AppliedSettings, DataBits, FlowControl, ModemLines, OutputSignals, SerialSettings, LineError } from './settings.ts';
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

/** What a port's chip can do; anything else is refused with a typed error. */
export interface PortCapabilities {
  readonly dataBits: readonly DataBits[];
  readonly flowControl: readonly FlowControl[];
  readonly break: boolean;
  /** Transmit FIFO bytes. */
  readonly txFifoSize: number;
  /** Whether drain reads the chip's transmitter-empty status (else it waits a bound from the baud rate). */
  readonly txEmptyStatus: boolean;
  /**
   * Modem inputs the device does not report, with the value it always reads (CDC-ACM has no CTS
   * bit: Linux's acm_tty_tiocmget reports CTS asserted). Absent: all four are real.
   */
  readonly fixedInputs?: Readonly<Partial<ModemLines>>;
}

export interface PortCloseOptions {
  /** Drop DTR and RTS (Linux: HUPCL); false leaves them as they are. */
  hupcl: boolean;
}

export interface PortOperations {
  /** Sets the chip up for this port, applies settings, starts reading into `sink`. */
  open(port: UsbSerialPort, settings: SerialSettings, sink: PortSink): Promise<AppliedSettings>;
  /** Stops reading and lets the chip go (DTR/RTS dropped when `hupcl`, the default). */
  close(port: UsbSerialPort, options?: PortCloseOptions): Promise<void>;
  /** Applies new line settings to an open port. Refuses what the chip cannot do (typed error). */
  setSettings(port: UsbSerialPort, settings: SerialSettings): Promise<AppliedSettings>;
  setSignals(port: UsbSerialPort, signals: OutputSignals): Promise<void>;
  getModemLines(port: UsbSerialPort): Promise<ModemLines>;
  /** Discards the chip's buffers: `rx` what was received and not read, `tx` what was not sent. */
  purge(port: UsbSerialPort, what: { rx: boolean; tx: boolean }): Promise<void>;
  /**
   * Sends bytes (any length; the driver splits and frames them). Resolves when the chip took
   * them; `progress` hears each transfer's count of bytes the chip took.
   */
  write(port: UsbSerialPort, data: Uint8Array, progress?: (bytes: number) => void): Promise<void>;
  /**
   * Cancels the bulk-OUT transfer in flight (its write rejects), then purges the chip's transmit
   * FIFO, so nothing of it reaches the line afterwards.
   */
  cancelWrites?(port: UsbSerialPort): Promise<void>;
  /** Resolves when the chip has put every byte it took on the line. */
  waitUntilSent?(port: UsbSerialPort): Promise<void>;
  capabilities?(port: UsbSerialPort): PortCapabilities;
  /** Pauses / resumes reading from the chip (backpressure): no IN transfer is submitted while paused. */
  pauseReading?(port: UsbSerialPort): void;
  resumeReading?(port: UsbSerialPort): void;
}
