// The chip ops table (Linux: the chip half of struct usb_serial_driver; usb-serial-for-android:
// what a driver overrides of CommonUsbSerialPort). A chip driver is one value of this type; the
// generic layer (generic/driver.ts) turns it into a serial driver and owns everything that is the
// same for every chip: the IN pipelines with their restart-on-stall policy, stopping and
// cancelling reads, the bulk-OUT loop, cancelling writes, drain, control-transfer errors for a
// gone device, open/close with close-on-failure, and capability refusals.
//
// The contract, in the order the generic layer calls:
//   probe?      the interface, before any I/O: throw to decline.
//   attach      identify and set up the chip; returns the adapter record `A` (kept per interface).
//   newPortState / portProbe?   per-port state `S`, then per-port set-up (one port per interface).
//   open        reset the chip and apply settings; reading starts after it (interrupt endpoint
//               first, then bulk IN, as pl2303_open and usb_serial_generic_open do), then the
//               generic layer raises DTR and RTS through setLines (Linux: tty_port dtr_rts(1)).
//   parseBulkIn / parseInterrupt?   each completed IN transfer: report data, line errors and modem
//               lines through the sink.
//   setSettings, setLines, setBreak?, getModemLines, purge   the port's requests.
//   txEmpty?    the chip's transmitter-empty status (drain polls it); without it drain waits the
//               bound usb_serial_generic_wait_until_sent computes from the baud rate and FIFO size.
//   close       after reading stopped: `hupcl` drops DTR/RTS (Linux: dtr_rts(0) when HUPCL is set).
//   release?    the adapter is gone or unbound.
// Settings a chip cannot do are refused with SerialSettingsError before any request goes out;
// a feature it lacks (break, a flow-control mode) is declared in capabilities and refused by the
// generic layer with UnsupportedFeatureError.
import type { UsbEndpointInfo, UsbInterface } from '../../usb/device.ts';
import type { UsbDeviceId } from '../../usb/ids.ts';
import type { PortSink } from '../port-ops.ts';
import type { UsbSerialPort } from '../port.ts';
import type { AppliedSettings, DataBits, FlowControl, ModemLines, SerialSettings } from '../settings.ts';
import type { UsbSerialControl } from './control.ts';

/** The endpoints the generic layer moves data on. */
export interface ChipEndpoints {
  readonly bulkIn: UsbEndpointInfo;
  readonly bulkOut: UsbEndpointInfo;
  /** Status notifications (PL2303, CDC-ACM); read before bulk IN, with the same restart policy. */
  readonly interruptIn?: UsbEndpointInfo;
  /**
   * The interface the bulk endpoints belong to when it is not the bound one (CDC-ACM's data
   * interface, claimed by the driver): cancelling reads and writes releases it too.
   */
  readonly dataInterface?: UsbInterface;
}

/** What a chip can do (usb-serial-for-android's getSupported*); the generic layer refuses the rest. */
export interface ChipCapabilities {
  readonly dataBits: readonly DataBits[];
  readonly flowControl: readonly FlowControl[];
  /** Whether the chip can send a break. */
  readonly break: boolean;
  /** Transmit FIFO bytes: the drain bound where the chip has no transmitter-empty status. */
  readonly txFifoSize: number;
  /** Whether the chip reports transmitter-empty (drain polls txEmpty). */
  readonly txEmptyStatus: boolean;
  /** Modem inputs the device does not report, with the value they always read (PortCapabilities). */
  readonly fixedInputs?: Readonly<Partial<ModemLines>>;
}

/** One port as a chip op sees it. */
export interface ChipPort<A extends object, S extends object> {
  readonly port: UsbSerialPort;
  readonly adapter: A;
  /** Per-port state the chip made with newPortState. */
  readonly state: S;
  /** Control transfers on this adapter, with a gone device reported as PortDisconnectedError. */
  readonly control: UsbSerialControl;
}

/** What attach gets: the interface and the control-transfer wrapper to identify the chip with. */
export interface ChipAttach {
  readonly intf: UsbInterface;
  readonly id: UsbDeviceId | null;
  readonly control: UsbSerialControl;
}

export interface UsbSerialChipOps<A extends object, S extends object> {
  /** Linux's driver name, e.g. 'ftdi_sio', 'pl2303'. */
  readonly name: string;
  readonly description: string;
  readonly idTable: readonly UsbDeviceId[];
  /** Bytes per bulk IN transfer for this adapter (default 16 packets). */
  readTransferSize?(adapter: A): number;
  /**
   * How long IN transfers in flight take to end on their own once no more are submitted (FTDI:
   * a status packet every latency period); stopping waits that long before cancelling them.
   * Default 0: cancel at once (PL2303's bulk IN pends until data arrives).
   */
  readSettleMs?(adapter: A): number;
  /** Bytes per bulk OUT transfer (default 16384). */
  readonly writeTransferSize?: number;

  /** Names the chip in refusals (e.g. 'PL2303 HXD clone'); default: driver name and port. */
  describe?(adapter: A): string;

  probe?(intf: UsbInterface, id: UsbDeviceId | null): void;
  attach(ctx: ChipAttach): Promise<A>;
  release?(adapter: A): void | Promise<void>;
  endpoints(adapter: A): ChipEndpoints;
  capabilities(adapter: A): ChipCapabilities;
  newPortState(adapter: A): S;
  portProbe?(chip: ChipPort<A, S>): Promise<void>;

  open(chip: ChipPort<A, S>, settings: SerialSettings): Promise<AppliedSettings>;
  setSettings(chip: ChipPort<A, S>, settings: SerialSettings): Promise<AppliedSettings>;
  setLines(chip: ChipPort<A, S>, lines: { dtr?: boolean; rts?: boolean }): Promise<void>;
  setBreak?(chip: ChipPort<A, S>, on: boolean): Promise<void>;
  getModemLines(chip: ChipPort<A, S>): Promise<ModemLines>;
  purge(chip: ChipPort<A, S>, what: { rx: boolean; tx: boolean }): Promise<void>;
  close(chip: ChipPort<A, S>, options: { hupcl: boolean }): Promise<void>;

  parseBulkIn(chip: ChipPort<A, S>, data: Uint8Array, sink: PortSink): void;
  parseInterrupt?(chip: ChipPort<A, S>, data: Uint8Array, sink: PortSink): void;
  /** Frames bytes for bulk OUT (the FTDI SIO's per-packet header); default: as they are. */
  frameOut?(chip: ChipPort<A, S>, data: Uint8Array): Uint8Array;
  txEmpty?(chip: ChipPort<A, S>): Promise<boolean>;
}
