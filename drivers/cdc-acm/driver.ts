// The CDC-ACM class driver (Linux: drivers/usb/class/cdc-acm.c), as a chip ops table over the
// generic usb-serial layer. It binds communication interfaces of class 2/2 with protocol 0-6
// (and the devices of its quirk table, and what new_id adds, including the 5-field form that
// borrows a quirk entry's driver info), finds the data interface as acm_probe does (union
// descriptor, the NO_UNION quirks, call management, or one combined interface: descriptors.ts)
// and claims it through the usb layer (usb_driver_claim_interface), giving it back at release.
//
// Requests (class, recipient interface, wIndex = the communication interface):
//   probe: SET_LINE_CODING 9600 8N1 (acm_probe);
//   open/setSettings: SET_LINE_CODING only when the 7 bytes differ from the last ones sent
//     (acm_tty_set_termios); then DTR|RTS with SET_CONTROL_LINE_STATE (acm_port_dtr_rts), and 0 at
//     close with HUPCL;
//   break: SEND_BREAK 0xFFFF on, 0 off, only with bmCapabilities bit 2 (acm_tty_break_ctl returns
//     EOPNOTSUPP otherwise; here a typed UnsupportedFeatureError through the capabilities);
//   unbind of an open port with the device still there: SET_CONTROL_LINE_STATE 0 (acm_disconnect
//     hangs the tty up: tty_port_shutdown lowers DTR/RTS under HUPCL, the default termios, and
//     acm_port_dtr_rts sends it whether or not the driver is going). The usb-serial drivers do
//     not (usb_serial_disconnect marks the serial disconnected first, so dtr_rts is skipped).
// Notifications (interrupt IN) are reassembled across packets; a SERIAL_STATE with wLength 2
// updates DCD/DSR/RI; until the first one the port reads DCD/DSR/RI clear (acm->ctrlin starts at
// 0: the class has no request that reads them); CTS is always reported asserted, as
// acm_tty_tiocmget does (the class has no CTS bit). A break bit inserts a NUL flagged as break, as Linux's TTY_BREAK; Linux only counts
// framing, parity and overrun bits: here they reach the user as line errors on an empty data
// chunk (position 0: the notification names no byte).
import { childLog, defineUsbSerialDriver, ProbeNoMatch, SerialSettingsError, UsbSerialControlError, usbDevice, usbDriverClaimInterface, usbDriverReleaseInterface, usbInterfaceInfo, type AppliedSettings, type ChipPort, type ControlFailure, type LineError, type ModemLines, type SerialSettings, type UsbDeviceId, type UsbDriver, type UsbEndpointInfo, type UsbInterface, type UsbSerialChipOps, type UsbSerialControl, type UsbSerialPort } from '../../src/serial/driver-api.ts';
import { ACM_CAP, AcmDescriptorError, findAcmFunction, walkConfiguration, type AcmFunction } from './descriptors.ts';
import { AcmLineCodingError, encodeAcmLineCoding } from './line-coding.ts';
import { ACM_QUIRK_TABLE, type AcmQuirk } from './quirks.ts';
import { AcmNotificationAssembler } from './serial-state.ts';

const log = childLog('drivers.cdc-acm');

/** Linux's driver name. */
export const CDC_ACM_DRIVER_NAME = 'cdc_acm';

export const ACM_REQUEST = Object.freeze({ SET_LINE_CODING: 0x20, GET_LINE_CODING: 0x21, SET_CONTROL_LINE_STATE: 0x22, SEND_BREAK: 0x23 } as const);
const CTRL_DTR = 0x01;
const CTRL_RTS = 0x02;

/** driverInfo of an ID entry: the quirks it carries (Linux: driver_info). */
export interface AcmIdInfo {
  readonly quirks: readonly AcmQuirk[];
}

/**
 * The ID table in Linux's order: the quirk devices first (so their driver info wins), then the
 * class entries 2/2/0-6 (USB_CDC_PROTO_NONE .. USB_CDC_ACM_PROTO_AT_CDMA).
 */
export const CDC_ACM_ID_TABLE: readonly UsbDeviceId[] = Object.freeze([
  ...ACM_QUIRK_TABLE.map((q) => usbDevice(q.idVendor, q.idProduct, Object.freeze({ quirks: q.quirks }) satisfies AcmIdInfo)),
  ...[0, 1, 2, 3, 4, 5, 6].map((p) => usbInterfaceInfo(0x02, 0x02, p)),
]);

/** A class request the device refused or answered short. */
export class AcmRequestError extends UsbSerialControlError {}


/** What the driver keeps per bound function. */
export interface CdcAcmAdapter {
  readonly fn: AcmFunction;
  readonly quirks: readonly AcmQuirk[];
  /** bmCapabilities after quirks. */
  readonly capabilities: number;
  readonly controlInterface: UsbInterface;
  /** The claimed data interface (the control interface itself when combined). */
  readonly dataInterface: UsbInterface;
  readonly endpoints: { readonly interruptIn: UsbEndpointInfo; readonly bulkIn: UsbEndpointInfo; readonly bulkOut: UsbEndpointInfo };
  /** The usb driver that claimed the data interface. */
  readonly usbDriver: UsbDriver;
}

interface AcmPortState {
  /** The 7 bytes last sent with SET_LINE_CODING (acm->line). */
  line: Uint8Array;
  /** DTR/RTS last sent (acm->ctrlout). */
  ctrlout: number;
  /** DCD 0x01, DSR 0x02, RI 0x08 from the last SERIAL_STATE (acm->ctrlin). */
  ctrlin: number;
  breakOn: boolean;
  assembler: AcmNotificationAssembler;
  /** Between open and close: a tty the unbind hangs up. */
  open: boolean;
}

/** Per bound function: its control requests and its ports' states, for the hang-up at unbind. */
interface AcmBinding {
  readonly control: UsbSerialControl;
  readonly ports: Set<AcmPortState>;
}

type Chip = ChipPort<CdcAcmAdapter, AcmPortState>;

export interface CdcAcmDriverOptions {
  /** Called when probe or attach refuses a device; the probe fails with the same error. */
  onProbeError?(intf: UsbInterface, error: unknown): void;
}

const bindings = new WeakMap<CdcAcmAdapter, AcmBinding>();
/** The 9600 8N1 acm_probe sends; also what the function is assumed to run until told otherwise. */
const PROBE_LINE = encodeAcmLineCoding({ baudRate: 9600, stopBits: 1, parity: 'none', dataBits: 8 });

// ---- requests -------------------------------------------------------------------------------

function classOut(control: UsbSerialControl, intf: number, request: number, value: number, what: string, data?: Uint8Array, port?: UsbSerialPort): Promise<void> {
  const fail = (f: ControlFailure) => new AcmRequestError(what, f);
  return control.out({ requestType: 'class', recipient: 'interface', request, value, index: intf }, { what, port, fail }, data);
}

/** The active configuration descriptor, whole (GET_DESCRIPTOR CONFIGURATION: 9 bytes, then wTotalLength). */
async function readConfiguration(control: UsbSerialControl): Promise<Uint8Array> {
  const setup = { requestType: 'standard', recipient: 'device', request: 0x06, value: 0x0200, index: 0 } as const;
  const head = await control.in(setup, 9, { what: 'GET_DESCRIPTOR configuration' });
  const total = head[2]! | (head[3]! << 8);
  return control.in(setup, total, { what: 'GET_DESCRIPTOR configuration' });
}

function endpointOf(intf: UsbInterface, address: number, what: string): UsbEndpointInfo {
  const ep = intf.endpoints.find((e) => e.address === address);
  if (!ep) throw new AcmDescriptorError(`${intf.name} has no ${what} endpoint 0x${address.toString(16)}`);
  return ep;
}

const sameLine = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

// ---- settings -------------------------------------------------------------------------------

function lineFor(s: SerialSettings): Uint8Array {
  try {
    return encodeAcmLineCoding({ baudRate: s.baudRate, stopBits: s.stopBits, parity: s.parity, dataBits: s.dataBits });
  } catch (err) {
    if (err instanceof AcmLineCodingError) throw new SerialSettingsError('baudRate', err.message, { cause: err });
    throw err;
  }
}

/** acm_tty_set_termios: SET_LINE_CODING only when the line coding changed. */
async function setTermios(c: Chip, s: SerialSettings): Promise<AppliedSettings> {
  const line = lineFor(s);
  await c.control.serialize(async () => {
    if (sameLine(line, c.state.line)) {
      log.debug({ port: c.port.name }, 'line coding unchanged: SET_LINE_CODING skipped');
      return;
    }
    await classOut(c.control, c.adapter.fn.controlInterface, ACM_REQUEST.SET_LINE_CODING, 0, 'SET_LINE_CODING', line, c.port);
    c.state.line = line;
  });
  // The function runs what it is told; the rate is whatever the device makes of dwDTERate.
  return { ...s, actualBaudRate: s.baudRate, reportedBaudRate: s.baudRate };
}

function modemLines(ctrlin: number): ModemLines {
  // acm_tty_tiocmget: TIOCM_CTS always set.
  return { cts: true, dsr: (ctrlin & 0x02) !== 0, ri: (ctrlin & 0x08) !== 0, dcd: (ctrlin & 0x01) !== 0 };
}

/**
 * The unbind of a function whose ports are open, with the device still there: DTR and RTS go low
 * (Linux: acm_disconnect -> tty_vhangup -> tty_port_shutdown -> acm_port_dtr_rts(0)). A failure
 * is logged: the unbind goes on, as Linux's does.
 */
async function hangUp(a: CdcAcmAdapter): Promise<void> {
  const b = bindings.get(a);
  bindings.delete(a);
  const intf = a.controlInterface;
  if (!b || intf.usbDevice.gone) return;
  for (const st of b.ports) {
    if (!st.open) continue;
    st.open = false;
    if (st.ctrlout === 0) continue;
    st.ctrlout = 0;
    try {
      // Stopping the reads released the interface to abort them; WebUSB sends a request to an
      // interface only while it is claimed, so it is claimed again (the bus releases it next).
      if (intf.claimed) await intf.usbDevice.serialize(() => intf.usb.claimInterface(intf.interfaceNumber));
      await b.control.serialize(() => classOut(b.control, a.fn.controlInterface, ACM_REQUEST.SET_CONTROL_LINE_STATE, 0, 'SET_CONTROL_LINE_STATE'));
    } catch (err) {
      log.debug({ err, adapter: intf.name }, 'dropping DTR/RTS at unbind failed');
    }
  }
}

// ---- the ops table --------------------------------------------------------------------------

function cdcAcmOps(options: CdcAcmDriverOptions): UsbSerialChipOps<CdcAcmAdapter, AcmPortState> {
  const reportProbeError = (intf: UsbInterface, err: unknown): never => {
    if (!(err instanceof ProbeNoMatch)) options.onProbeError?.(intf, err);
    throw err;
  };
  return {
    name: CDC_ACM_DRIVER_NAME,
    description: 'USB Abstract Control Model driver for USB modems and ISDN adapters',
    idTable: CDC_ACM_ID_TABLE,

    describe: (a) => `CDC-ACM function on ${a.controlInterface.name}`,

    async attach({ intf, id, control }) {
      let claimed: UsbInterface | null = null;
      const usbDriver = intf.driver as UsbDriver | null;
      try {
        if (!usbDriver) throw new ProbeNoMatch(`${intf.name} is not being probed`);
        const quirks = (id?.driverInfo as AcmIdInfo | undefined)?.quirks ?? [];
        const config = walkConfiguration(await readConfiguration(control));
        const fn = findAcmFunction(config, intf.interfaceNumber, quirks);
        // With NO_UNION_NORMAL every interface of the device matches: only the control one binds.
        if (fn.controlInterface !== intf.interfaceNumber) throw new ProbeNoMatch(`${intf.name} is the data interface of interface ${fn.controlInterface}`);
        let dataInterface = intf;
        if (!fn.combined) {
          const data = intf.usbDevice.interfaces.find((i) => i.interfaceNumber === fn.dataInterface);
          if (!data) throw new AcmDescriptorError(`data interface ${fn.dataInterface} is not in the active configuration`);
          await usbDriverClaimInterface(usbDriver, data);
          claimed = data;
          dataInterface = data;
        }
        const endpoints = Object.freeze({
          interruptIn: endpointOf(intf, fn.notifyEndpoint.address, 'notification'),
          bulkIn: endpointOf(dataInterface, fn.bulkIn.address, 'bulk IN'),
          bulkOut: endpointOf(dataInterface, fn.bulkOut.address, 'bulk OUT'),
        });
        // acm_probe ends with the line coding 9600 8N1.
        await classOut(control, fn.controlInterface, ACM_REQUEST.SET_LINE_CODING, 0, 'SET_LINE_CODING', PROBE_LINE);
        const adapter: CdcAcmAdapter = Object.freeze({ fn, quirks, capabilities: fn.capabilities, controlInterface: intf, dataInterface, endpoints, usbDriver });
        log.debug({ adapter: intf.name, data: dataInterface.name, foundBy: fn.foundBy, caps: fn.capabilities, quirks }, 'CDC-ACM function bound');
        bindings.set(adapter, { control, ports: new Set() });
        return adapter;
      } catch (err) {
        if (claimed && usbDriver) await usbDriverReleaseInterface(usbDriver, claimed).catch(() => undefined);
        return reportProbeError(intf, err);
      }
    },

    async release(a) {
      await hangUp(a);
      if (a.dataInterface !== a.controlInterface) await usbDriverReleaseInterface(a.usbDriver, a.dataInterface);
    },

    endpoints: (a) => ({ ...a.endpoints, ...(a.dataInterface !== a.controlInterface ? { dataInterface: a.dataInterface } : {}) }),

    capabilities: (a) => ({
      dataBits: [5, 6, 7, 8],
      flowControl: ['none'],
      break: (a.capabilities & ACM_CAP.BRK) !== 0,
      txFifoSize: a.endpoints.bulkOut.packetSize,
      txEmptyStatus: false,
      fixedInputs: { cts: true },
    }),

    newPortState(a) {
      const st: AcmPortState = { line: PROBE_LINE, ctrlout: 0, ctrlin: 0, breakOn: false, assembler: new AcmNotificationAssembler(), open: false };
      bindings.get(a)?.ports.add(st);
      return st;
    },

    async open(c, settings) {
      lineFor(settings); // refuse before touching the device
      c.state.open = true;
      // The assembler keeps a notification half read before the last close: the device still
      // has its tail queued on the endpoint.
      return setTermios(c, settings);
    },

    setSettings: (c, settings) => setTermios(c, settings),

    async setLines(c, lines) {
      const st = c.state;
      await c.control.serialize(async () => {
        let ctrl = st.ctrlout;
        if (lines.dtr !== undefined) ctrl = lines.dtr ? ctrl | CTRL_DTR : ctrl & ~CTRL_DTR;
        if (lines.rts !== undefined) ctrl = lines.rts ? ctrl | CTRL_RTS : ctrl & ~CTRL_RTS;
        await classOut(c.control, c.adapter.fn.controlInterface, ACM_REQUEST.SET_CONTROL_LINE_STATE, ctrl, 'SET_CONTROL_LINE_STATE', undefined, c.port);
        st.ctrlout = ctrl;
      });
    },

    async setBreak(c, on) {
      await c.control.serialize(async () => {
        await classOut(c.control, c.adapter.fn.controlInterface, ACM_REQUEST.SEND_BREAK, on ? 0xffff : 0, 'SEND_BREAK', undefined, c.port);
        c.state.breakOn = on;
      });
    },

    getModemLines: async (c) => modemLines(c.state.ctrlin),

    // The class has no purge request.
    async purge() {},

    async close(c, { hupcl }) {
      const st = c.state;
      st.open = false;
      const ifc = c.adapter.fn.controlInterface;
      await c.control.serialize(async () => {
        if (st.breakOn) {
          st.breakOn = false;
          await classOut(c.control, ifc, ACM_REQUEST.SEND_BREAK, 0, 'SEND_BREAK', undefined, c.port).catch((err: unknown) => log.debug({ err, port: c.port.name }, 'break off failed'));
        }
        // acm_port_dtr_rts(0) on HUPCL.
        if (hupcl) {
          st.ctrlout = 0;
          await classOut(c.control, ifc, ACM_REQUEST.SET_CONTROL_LINE_STATE, 0, 'SET_CONTROL_LINE_STATE', undefined, c.port).catch((err: unknown) =>
            log.debug({ err, port: c.port.name }, 'dropping DTR/RTS failed'),
          );
        }
      });
    },

    parseInterrupt(c, data, sink) {
      for (const note of c.state.assembler.push(data)) {
        if (!note.serialState) {
          log.debug({ port: c.port.name, notification: note.bNotification, length: note.data.length }, 'notification ignored');
          continue;
        }
        const s = note.serialState;
        c.state.ctrlin = s.raw & 0x0b;
        sink.modem(modemLines(c.state.ctrlin));
        if (s.brk) sink.data(Uint8Array.of(0), [{ kind: 'break', position: 0 }]);
        const errors: LineError[] = [];
        if (s.overrun) errors.push({ kind: 'overrun', position: 0 });
        if (s.parity) errors.push({ kind: 'parity', position: 0 });
        if (s.framing) errors.push({ kind: 'framing', position: 0 });
        if (errors.length) sink.data(new Uint8Array(0), errors);
      }
    },

    parseBulkIn(_c, data, sink) {
      sink.data(data, []);
    },
  };
}

const cdcAcm = defineUsbSerialDriver(cdcAcmOps);

/** Builds a CDC-ACM serial driver (each instance keeps its own options). */
export const createCdcAcmDriver = cdcAcm.create;
/** The default driver, its driver set, its registration and the adapter accessor (the generic layer's registration tail). */
export const { driver: cdcAcmDriver, driverSet: cdcAcmDriverSet, register: registerCdcAcm, adapterOf: cdcAcmAdapterOf } = cdcAcm;
