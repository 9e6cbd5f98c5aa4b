// Web Serial argument and state checks in the spec's order: WebIDL conversion TypeErrors first
// (any state), then the method's state check, then its value checks.
import { expect } from 'chai';
import { createWebSerial, type Serial, type SerialPort } from '../../src/serial/web-serial.ts';
import { loopLab, type LoopLab } from './fixtures/lab.ts';

const nameOf = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => 'resolved',
    (err: unknown) => err,
  );
  return e instanceof TypeError ? 'TypeError' : e instanceof DOMException ? e.name : String(e);
};

describe('serial: Web Serial argument and state checks in spec order', () => {
  let lab: LoopLab;
  let serial: Serial;
  let port: SerialPort;
  beforeEach(async () => {
    lab = await loopLab();
    serial = createWebSerial({ usb: lab.usb });
    await lab.plug();
    [port] = (await serial.getPorts()) as [SerialPort];
  });
  afterEach(async () => {
    await serial.dispose();
    await lab.close();
  });

  it('open({ parity: null }) and unknown enum values are TypeErrors on a closed port; nothing is opened', async () => {
    for (const bad of [{ parity: null }, { parity: 'mark' }, { flowControl: 'software' }, { flowControl: null }]) {
      expect(await nameOf(port.open({ baudRate: 9600, ...bad } as never)), JSON.stringify(bad)).to.equal('TypeError');
    }
    expect(port.usbSerialPort.portState).to.equal('closed');
    expect(port.readable).to.equal(null);
  });

  it('WebIDL conversion errors are TypeErrors on an open port too (before the InvalidStateError)', async () => {
    await port.open({ baudRate: 9600 });
    for (const bad of [{ baudRate: 9600, parity: null }, { baudRate: 9600, parity: 'space' }, {}, { baudRate: -1 }, { baudRate: NaN }, { baudRate: Infinity }, { baudRate: 9600, bufferSize: -1 }, { baudRate: 9600, dataBits: 256 }]) {
      expect(await nameOf(port.open(bad as never)), JSON.stringify(bad)).to.equal('TypeError');
    }
    expect(await nameOf(port.open(undefined as never))).to.equal('TypeError');
    expect(await nameOf(port.open(5 as never))).to.equal('TypeError');
  });

  it('on an open port the state check comes before the value checks: baudRate 0, dataBits 6, bufferSize 0 are InvalidStateError', async () => {
    await port.open({ baudRate: 9600 });
    for (const v of [{ baudRate: 9600 }, { baudRate: 0 }, { baudRate: 9600, dataBits: 6 }, { baudRate: 9600, stopBits: 3 }, { baudRate: 9600, bufferSize: 0 }]) {
      expect(await nameOf(port.open(v)), JSON.stringify(v)).to.equal('InvalidStateError');
    }
  });

  it('on a closed port the value checks are TypeErrors', async () => {
    for (const v of [{ baudRate: 0 }, { baudRate: 9600, dataBits: 6 }, { baudRate: 9600, stopBits: 3 }, { baudRate: 9600, bufferSize: 0 }, { baudRate: 9600, bufferSize: 16 * 1024 * 1024 + 1 }]) {
      expect(await nameOf(port.open(v)), JSON.stringify(v)).to.equal('TypeError');
    }
    expect(await nameOf(port.open({ baudRate: 9600.7, dataBits: 7.9 }))).to.equal('resolved'); // [EnforceRange] truncates
    expect(port.usbSerialPort.settings).to.deep.include({ baudRate: 9600, dataBits: 7 });
  });

  it('setSignals on a closed port rejects InvalidStateError before it looks at the dictionary; open, an empty one is a TypeError', async () => {
    expect(await nameOf(port.setSignals({}))).to.equal('InvalidStateError');
    expect(await nameOf(port.setSignals())).to.equal('InvalidStateError');
    expect(await nameOf(port.setSignals(5 as never))).to.equal('TypeError'); // not a dictionary: WebIDL, any state
    await port.open({ baudRate: 9600 });
    expect(await nameOf(port.setSignals({}))).to.equal('TypeError');
    expect(await nameOf(port.setSignals({ dataTerminalReady: 0 as never }))).to.equal('resolved'); // converted to false
    expect(lab.portOf([...lab.host.devices][0]!.usb)).to.equal(port.usbSerialPort);
  });
});
