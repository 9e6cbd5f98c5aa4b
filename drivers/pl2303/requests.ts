// The PL2303's control requests over the generic layer's control wrapper: vendor register reads
// and writes (the request set follows the type: HXN has its own), and the CDC-like class requests
// to the interface (wIndex = interface number, 0 on every single-interface PL2303, as Linux sends).
import type { ControlFailure, UsbSerialControl, UsbSerialPort } from '../../src/serial/driver-api.ts';
import { Pl2303TransferError } from './errors.ts';
import {
  breakSetup,
  getLineSetup,
  PL2303_CONTROL_DTR,
  PL2303_CONTROL_RTS,
  setControlSetup,
  setLineSetup,
  toWebUsbSetup,
  vendorReadSetup,
  vendorWriteSetup,
  type Pl2303ControlSetup,
} from './registers.ts';
import { Pl2303StallError, type Pl2303Type } from './types.ts';

export class Pl2303Requests {
  constructor(
    readonly control: UsbSerialControl,
    readonly interfaceNumber: number,
    /** Request set: HXN uses its own vendor bRequests. Detection runs with the legacy set. */
    public type: Pl2303Type,
    /** The port the requests serve, for PortDisconnectedError on a gone device. */
    readonly port?: UsbSerialPort,
  ) {}

  forPort(port: UsbSerialPort): Pl2303Requests {
    return new Pl2303Requests(this.control, this.interfaceNumber, this.type, port);
  }

  async in(setup: Pl2303ControlSetup, what: string): Promise<Uint8Array> {
    const w = toWebUsbSetup(setup);
    return this.control.in({ ...w.params }, w.length, { what, port: this.port, fail: failure(what) });
  }

  async out(setup: Pl2303ControlSetup, what: string, data?: Uint8Array): Promise<void> {
    const w = toWebUsbSetup(setup);
    await this.control.out({ ...w.params }, { what, port: this.port, fail: failure(what) }, data);
  }

  async vendorRead(reg: number): Promise<number> {
    const b = await this.in(vendorReadSetup(this.type, reg), `vendor read [${hex16(reg)}]`);
    return b[0]!;
  }

  vendorWrite(reg: number, value: number): Promise<void> {
    return this.out(vendorWriteSetup(this.type, reg, value), `vendor write [${hex16(reg)}] = ${hex8(value)}`);
  }

  private toInterface(s: Pl2303ControlSetup): Pl2303ControlSetup {
    return { ...s, wIndex: this.interfaceNumber };
  }

  getLine(): Promise<Uint8Array> {
    return this.in(this.toInterface(getLineSetup()), 'GET_LINE');
  }

  setLine(bytes: Uint8Array): Promise<void> {
    return this.out(this.toInterface(setLineSetup()), 'SET_LINE', bytes);
  }

  setControl(control: number): Promise<void> {
    const lines = { dtr: !!(control & PL2303_CONTROL_DTR), rts: !!(control & PL2303_CONTROL_RTS) };
    return this.out(this.toInterface(setControlSetup(lines)), `SET_CONTROL ${hex8(control)}`);
  }

  setBreak(on: boolean): Promise<void> {
    return this.out(this.toInterface(breakSetup(on)), `BREAK ${on ? 'on' : 'off'}`);
  }
}

function failure(what: string) {
  return (f: ControlFailure): Error =>
    f.status === 'stall'
      ? new Pl2303StallError(what)
      : f.status === 'short'
        ? new Pl2303TransferError(what, 'short', `${f.got} of ${f.wanted} bytes`)
        : new Pl2303TransferError(what, f.status, `status ${f.status}`);
}

export function hex8(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}
function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
