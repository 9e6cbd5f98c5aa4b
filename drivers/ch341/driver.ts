// The CH341 usb-serial driver (Linux: drivers/usb/serial/ch341.c), as a chip ops table over the
// generic usb-serial layer. The requests go out in the order and with the bytes ch341.c sends:
//   attach (ch341_port_probe -> ch341_configure): READ_VERSION, SERIAL_INIT, the rate pair 0x1312
//     and the LCR pair 0x2518 for 9600 8N1 (LCR skipped below version 0x30), MODEM_CTRL with all
//     outputs off; then the quirk probe READ_REG 0x0005 (`ch341_detect_quirks`): a stall means
//     LIMITED_PRESCALER and SIMULATE_BREAK.
//   open (ch341_open): set_termios (rate, LCR, MODEM_CTRL), then the generic layer starts the
//     interrupt endpoint, then READ_REG 0x0706 for the modem lines (`ch341_get_status`), then bulk
//     IN; then DTR|RTS (tty_port dtr_rts).
//   setSettings (ch341_set_termios): nothing at all when nothing changed ("redundant changes may
//     cause the chip to lose bytes"); else rate + LCR, then MODEM_CTRL as set_termios always ends.
//   break (ch341_break_ctl): READ_REG 0x1805, clear/set reg 0x05 bit 0 and LCR TX-enable, WRITE_REG
//     0x1805; on the quirky parts ch341_simulate_break: 46 baud 8N1, one NUL, restore after 11 bits.
// Deviations, each for the layer's contract: Linux clamps rates to 46..3 000 000 silently and runs
// whatever divisor is nearest; here a rate the chip cannot run within 3% is a SerialSettingsError
// before any request (AppliedSettings promises the actual rate within 3%). 1.5 stop bits has no
// encoding (Linux maps CSTOPB to 2): refused. Linux's ch341 has no flow control and no purge
// request: only 'none' is offered, purge sends nothing.
import { childLog, defineUsbSerialDriver, SerialSettingsError, transferErrorKind, UsbSerialControlError, type AppliedSettings, type ChipPort, type ControlFailure, type ModemLines, type SerialSettings, type UsbEndpointInfo, type UsbInterface, type UsbSerialChipOps, type UsbSerialPort, usbDevice, type UsbDeviceId } from '../../src/serial/driver-api.ts';
import { Ch341BaudError, CH341_MIN_BPS, encodeCh341Baud, type Ch341BaudEncoding } from './baud.ts';
import { CH341_LCR, CH341_LCR_MIN_VERSION, encodeCh341Lcr } from './lcr.ts';
import { CH341_ID_TABLE as CH341_IDS, CH341_NBREAK_BITS, CH341_REG, CH341_REQUEST } from './requests.ts';
import { decodeCh341ModemByte, encodeCh341ModemControl, parseCh341InterruptStatus, type Ch341ModemStatus } from './status.ts';

const log = childLog('drivers.ch341');

/** The VID:PID pairs Linux's ch341 binds (`id_table`), as usb match entries. */
export const CH341_ID_TABLE: readonly UsbDeviceId[] = Object.freeze(CH341_IDS.map((i) => usbDevice(i.idVendor, i.idProduct)));

/** Linux's driver name. */
export const CH341_DRIVER_NAME = 'ch341';

/** The largest rate error the layer accepts (AppliedSettings: within 3% or refused). */
const TOLERANCE = 0.03;
/** Transmit FIFO bytes the drain bound assumes (the bulk OUT packet size of the parts). */
const TX_FIFO = 32;
/** The LCR ch341_port_probe starts with: RX, TX, 8 data bits. */
const LCR_8N1 = CH341_LCR.ENABLE_RX | CH341_LCR.ENABLE_TX | 0x03;
/** The simulated break's one NUL takes 11 bit times at 46 baud (`ch341_simulate_break`). */
export const CH341_SIMULATED_BREAK_MS = Math.ceil((11 * 1000) / CH341_MIN_BPS);

/** A CH341 request the chip refused or answered short. */
export class Ch341RequestError extends UsbSerialControlError {}

/** An interface without the endpoints a CH341 has. */
export class Ch341EndpointError extends Error {
  override readonly name = 'Ch341EndpointError';
  constructor(
    readonly intf: string,
    readonly missing: string,
  ) {
    super(`${intf}: CH341 interface has no ${missing} endpoint`);
  }
}

export interface Ch341Quirks {
  /** READ_REG 0x0005 stalled: the prescaler's fact bit is unusable below ps 3. */
  readonly limitedPrescaler: boolean;
  /** No break register: break is simulated with a NUL at 46 baud. */
  readonly simulateBreak: boolean;
}

export interface Ch341Endpoints {
  readonly interruptIn: UsbEndpointInfo;
  readonly bulkIn: UsbEndpointInfo;
  readonly bulkOut: UsbEndpointInfo;
}

/** What the driver keeps per adapter. */
export interface Ch341Adapter {
  /** Byte 0 of READ_VERSION. */
  readonly version: number;
  readonly quirks: Ch341Quirks;
  readonly endpoints: Ch341Endpoints;
}

interface Ch341PortState {
  /** The settings the chip last took (set_termios compares against them). */
  settings: SerialSettings | null;
  encoding: Ch341BaudEncoding | null;
  /** The LCR the chip last took (priv->lcr). */
  lcr: number;
  /** DTR 0x20 | RTS 0x40 as wanted (priv->mcr, positive logic). */
  mcr: number;
  /** Modem inputs, positive logic (priv->msr). */
  msr: Ch341ModemStatus;
  breakOn: boolean;
  /** When the simulated break's NUL has left the line (ms clock). */
  breakEnd: number;
}

type Chip = ChipPort<Ch341Adapter, Ch341PortState>;

export interface Ch341DriverOptions {
  /** Bytes per bulk IN transfer; default 16 packets. */
  readTransferSize?: number;
  /** Called when probe or attach refuses a device; the probe fails with the same error. */
  onProbeError?(intf: UsbInterface, error: unknown): void;
}


const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

// ---- requests -------------------------------------------------------------------------------

type Control = Chip['control'];

const failWith = (what: string) => (f: ControlFailure) => new Ch341RequestError(what, f);

function out(control: Control, request: number, value: number, index: number, what: string, port?: UsbSerialPort): Promise<void> {
  return control.out({ requestType: 'vendor', recipient: 'device', request, value, index }, { what, port, fail: failWith(what) });
}

function inReq(control: Control, request: number, value: number, length: number, what: string, port?: UsbSerialPort): Promise<Uint8Array> {
  return control.in({ requestType: 'vendor', recipient: 'device', request, value, index: 0 }, length, { what, port, fail: failWith(what) });
}

const writeReg = (c: Control, value: number, index: number, port?: UsbSerialPort) =>
  out(c, CH341_REQUEST.WRITE_REG, value, index, `CH341 WRITE_REG ${hex4(value)}=${hex4(index)}`, port);
const readReg = (c: Control, value: number, port?: UsbSerialPort) => inReq(c, CH341_REQUEST.READ_REG, value, 2, `CH341 READ_REG ${hex4(value)}`, port);
const setHandshake = (c: Control, mcr: number, port?: UsbSerialPort) =>
  out(c, CH341_REQUEST.MODEM_CTRL, encodeCh341ModemControl((mcr & 0x20) !== 0, (mcr & 0x40) !== 0), 0, 'CH341 MODEM_CTRL', port);

/** ch341_set_baudrate_lcr: the rate pair, then the LCR pair on versions 0x30 and up. */
async function setBaudrateLcr(c: Control, version: number, enc: Ch341BaudEncoding, lcr: number, port?: UsbSerialPort): Promise<void> {
  await writeReg(c, (CH341_REG.DIVISOR << 8) | CH341_REG.PRESCALER, enc.wIndex, port);
  if (version < CH341_LCR_MIN_VERSION) return;
  await writeReg(c, (CH341_REG.LCR2 << 8) | CH341_REG.LCR, lcr, port);
}

// ---- settings -------------------------------------------------------------------------------

interface Planned {
  enc: Ch341BaudEncoding;
  lcr: number;
}

/** Checks the settings against the chip and computes the registers; throws SerialSettingsError. */
function plan(a: Ch341Adapter, s: SerialSettings): Planned {
  if (s.stopBits === 1.5) throw new SerialSettingsError('stopBits', 'CH341 has no 1.5 stop bits; use 1 or 2');
  let enc: Ch341BaudEncoding;
  try {
    enc = encodeCh341Baud(s.baudRate, a.version, { limitedPrescaler: a.quirks.limitedPrescaler });
  } catch (err) {
    if (err instanceof Ch341BaudError) throw new SerialSettingsError('baudRate', err.message, { cause: err });
    throw err;
  }
  if (Math.abs(enc.actual - s.baudRate) / s.baudRate > TOLERANCE) {
    throw new SerialSettingsError(
      'baudRate',
      `CH341 runs ${Math.round(enc.actual)} baud for ${s.baudRate} (more than 3% off); it does ${CH341_MIN_BPS}..3000000 baud as 48 MHz / (prescaler x divisor)`,
    );
  }
  return { enc, lcr: encodeCh341Lcr({ dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits }) };
}

/** tty_termios_hw_change for what the chip takes: rate and framing. */
function sameHw(a: SerialSettings, b: SerialSettings): boolean {
  return a.baudRate === b.baudRate && a.dataBits === b.dataBits && a.parity === b.parity && a.stopBits === b.stopBits && a.flowControl === b.flowControl;
}

function applied(s: SerialSettings, enc: Ch341BaudEncoding): AppliedSettings {
  // ch341_set_termios leaves termios as asked (no tty_encode_baud_rate): Linux reports the request.
  return { ...s, actualBaudRate: enc.actual, reportedBaudRate: s.baudRate };
}

/** ch341_set_termios: rate and LCR (unless unchanged), then MODEM_CTRL. */
async function setTermios(c: Chip, s: SerialSettings, initial: boolean): Promise<AppliedSettings> {
  const { adapter: a, state: st } = c;
  const p = plan(a, s);
  return c.control.serialize(async () => {
    if (!initial && st.settings && st.encoding && sameHw(st.settings, s)) {
      log.debug({ port: c.port.name }, 'settings unchanged: set_termios sends nothing');
      st.settings = { ...s };
      return applied(s, st.encoding);
    }
    await setBaudrateLcr(c.control, a.version, p.enc, p.lcr, c.port);
    st.lcr = p.lcr;
    st.encoding = p.enc;
    st.settings = { ...s };
    await setHandshake(c.control, st.mcr, c.port);
    return applied(s, p.enc);
  });
}

function findEndpoints(intf: UsbInterface): Ch341Endpoints {
  const interruptIn = intf.endpoint('in', 'interrupt');
  const bulkIn = intf.endpoint('in', 'bulk');
  const bulkOut = intf.endpoint('out', 'bulk');
  if (!interruptIn) throw new Ch341EndpointError(intf.name, 'interrupt IN');
  if (!bulkIn) throw new Ch341EndpointError(intf.name, 'bulk IN');
  if (!bulkOut) throw new Ch341EndpointError(intf.name, 'bulk OUT');
  return Object.freeze({ interruptIn, bulkIn, bulkOut });
}

const toLines = (m: Ch341ModemStatus): ModemLines => ({ cts: m.cts, dsr: m.dsr, ri: m.ri, dcd: m.dcd });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- the ops table --------------------------------------------------------------------------

function ch341Ops(options: Ch341DriverOptions): UsbSerialChipOps<Ch341Adapter, Ch341PortState> {
  const reportProbeError = (intf: UsbInterface, err: unknown): never => {
    options.onProbeError?.(intf, err);
    throw err;
  };
  return {
    name: CH341_DRIVER_NAME,
    description: 'Winchiphead CH341 USB Serial Adapter',
    idTable: CH341_ID_TABLE,
    ...(options.readTransferSize ? { readTransferSize: () => options.readTransferSize! } : {}),

    describe: (a) => `CH341 (version 0x${a.version.toString(16)}${a.quirks.simulateBreak ? ', no break register' : ''})`,

    probe(intf) {
      try {
        findEndpoints(intf);
      } catch (err) {
        reportProbeError(intf, err);
      }
    },

    async attach({ intf, control }) {
      try {
        const endpoints = findEndpoints(intf);
        // ch341_configure
        const ver = await inReq(control, CH341_REQUEST.READ_VERSION, 0, 2, 'CH341 READ_VERSION');
        const version = ver[0]!;
        await out(control, CH341_REQUEST.SERIAL_INIT, 0, 0, 'CH341 SERIAL_INIT');
        await setBaudrateLcr(control, version, encodeCh341Baud(9600, version), LCR_8N1);
        await setHandshake(control, 0);
        // ch341_detect_quirks: only a stall says "quirky part"; any other failure fails the probe.
        let quirky = false;
        try {
          await readReg(control, CH341_REG.BREAK);
        } catch (err) {
          if (!(err instanceof Ch341RequestError && 'status' in err.failure && err.failure.status === 'stall')) throw err;
          quirky = true;
        }
        const adapter: Ch341Adapter = Object.freeze({
          version,
          quirks: Object.freeze({ limitedPrescaler: quirky, simulateBreak: quirky }),
          endpoints,
        });
        log.debug({ adapter: intf.name, version, quirky }, 'CH341 configured');
        return adapter;
      } catch (err) {
        return reportProbeError(intf, err);
      }
    },

    endpoints: (a) => a.endpoints,

    capabilities: () => ({ dataBits: [5, 6, 7, 8], flowControl: ['none'], break: true, txFifoSize: TX_FIFO, txEmptyStatus: false }),

    newPortState: () => ({
      settings: null,
      encoding: null,
      lcr: LCR_8N1,
      mcr: 0,
      msr: { cts: false, dsr: false, ri: false, dcd: false },
      breakOn: false,
      breakEnd: 0,
    }),

    async open(c, settings) {
      plan(c.adapter, settings); // refuse before touching the chip
      const result = await setTermios(c, settings, true);
      // ch341_get_status: the modem inputs as they are now. Linux reads them after submitting the
      // interrupt URB; the generic layer starts the interrupt endpoint when open returns, so the
      // read comes just before it (a change in between is reported by the chip's next packet).
      await c.control.serialize(async () => {
        const raw = await readReg(c.control, (CH341_REG.STATUS2 << 8) | CH341_REG.STATUS, c.port);
        c.state.msr = decodeCh341ModemByte(raw[0]!);
      });
      return result;
    },

    setSettings: (c, settings) => setTermios(c, settings, false),

    async setLines(c, lines) {
      const st = c.state;
      await c.control.serialize(async () => {
        let mcr = st.mcr;
        if (lines.dtr !== undefined) mcr = lines.dtr ? mcr | 0x20 : mcr & ~0x20;
        if (lines.rts !== undefined) mcr = lines.rts ? mcr | 0x40 : mcr & ~0x40;
        await setHandshake(c.control, mcr, c.port);
        st.mcr = mcr;
      });
    },

    async setBreak(c, on) {
      if (c.adapter.quirks.simulateBreak) return simulateBreak(c, on);
      await c.control.serialize(async () => {
        const reg = (CH341_REG.LCR << 8) | CH341_REG.BREAK;
        const cur = await readReg(c.control, reg, c.port);
        let r05 = cur[0]!;
        let lcr = cur[1]!;
        if (on) {
          r05 &= ~CH341_NBREAK_BITS;
          lcr &= ~CH341_LCR.ENABLE_TX;
        } else {
          r05 |= CH341_NBREAK_BITS;
          lcr |= CH341_LCR.ENABLE_TX;
        }
        await writeReg(c.control, reg, (lcr << 8) | r05, c.port);
        c.state.breakOn = on;
      });
    },

    async getModemLines(c) {
      return toLines(c.state.msr);
    },

    // ch341 has no purge request (Linux's driver sends nothing on flush).
    async purge() {},

    async close(c, { hupcl }) {
      const st = c.state;
      await c.control.serialize(async () => {
        if (st.breakOn && !c.adapter.quirks.simulateBreak) {
          st.breakOn = false;
          const reg = (CH341_REG.LCR << 8) | CH341_REG.BREAK;
          await readReg(c.control, reg, c.port)
            .then((cur) => writeReg(c.control, reg, ((cur[1]! | CH341_LCR.ENABLE_TX) << 8) | (cur[0]! | CH341_NBREAK_BITS), c.port))
            .catch((err: unknown) => log.debug({ err, port: c.port.name }, 'break off failed'));
        }
        // ch341_dtr_rts(0) on HUPCL.
        if (hupcl && st.mcr !== 0) {
          st.mcr = 0;
          await setHandshake(c.control, 0, c.port).catch((err: unknown) => log.debug({ err, port: c.port.name }, 'dropping DTR/RTS failed'));
        }
      });
    },

    parseInterrupt(c, data, sink) {
      const status = parseCh341InterruptStatus(data);
      if (!status) return; // shorter than 4 bytes: ignored, as ch341_update_status does
      if (status.multipleChanges) log.debug({ port: c.port.name }, 'multiple status changes since the last report');
      c.state.msr = { cts: status.cts, dsr: status.dsr, ri: status.ri, dcd: status.dcd };
      sink.modem(toLines(c.state.msr));
    },

    parseBulkIn(_c, data, sink) {
      sink.data(data, []); // raw bytes: the chip has no line-error path (Linux has none either)
    },
  };
}

/**
 * ch341_simulate_break: on, switch to 46 baud 8N1 and send one NUL (11 bit times, ~240 ms); off,
 * wait until that NUL has left, then restore the port's rate and LCR.
 */
async function simulateBreak(c: Chip, on: boolean): Promise<void> {
  const { adapter: a, state: st } = c;
  if (on) {
    await c.control.serialize(() => setBaudrateLcr(c.control, a.version, encodeCh341Baud(CH341_MIN_BPS, a.version, { limitedPrescaler: a.quirks.limitedPrescaler }), LCR_8N1, c.port));
    const usb = c.port.serial.intf.usb;
    try {
      await usb.transferOut(a.endpoints.bulkOut.number, Uint8Array.of(0));
    } catch (err) {
      if (transferErrorKind(err) === 'disconnected') throw err;
      log.debug({ err, port: c.port.name }, 'simulated break: NUL not sent; restoring');
      await restore(c);
      throw err;
    }
    st.breakEnd = Date.now() + CH341_SIMULATED_BREAK_MS;
    st.breakOn = true;
    return;
  }
  const wait = st.breakEnd - Date.now();
  if (wait > 0) await sleep(wait);
  await restore(c);
}

async function restore(c: Chip): Promise<void> {
  const { adapter: a, state: st } = c;
  const enc = st.encoding ?? encodeCh341Baud(9600, a.version, { limitedPrescaler: a.quirks.limitedPrescaler });
  await c.control.serialize(() => setBaudrateLcr(c.control, a.version, enc, st.lcr, c.port));
  st.breakOn = false;
}

const ch341 = defineUsbSerialDriver(ch341Ops);

/** Builds a CH341 serial driver (each instance keeps its own options). */
export const createCh341Driver = ch341.create;
/** The default driver, its driver set, its registration and the adapter accessor (the generic layer's registration tail). */
export const { driver: ch341Driver, driverSet: ch341DriverSet, register: registerCh341, adapterOf: ch341AdapterOf } = ch341;
