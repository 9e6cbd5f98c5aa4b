// Port lookup (src/serial/port-resolver.ts): every name a port answers to, and typed errors for
// names that fit none or several.
import { expect } from 'chai';
import { AmbiguousPortError, byIdName, findPort, resolvePort, UnknownPortError } from '../../src/serial/port-resolver.ts';
import { loopLab, type LoopLab } from './fixtures/lab.ts';

/** What `fn` throws, or null. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}

describe('serial: the port resolver', () => {
  let lab: LoopLab;
  beforeEach(async () => {
    lab = await loopLab();
  });
  afterEach(async () => {
    await lab.close();
  });

  it('finds a port by ttyUSB name, /dev path, stable path, by-id name (bare and under /dev/serial/by-id) and serial number', async () => {
    await lab.plug({ serialNumber: 'AAA1', at: '1-1' });
    const { port } = await lab.plug({ serialNumber: 'BBB2', at: '1-2' });
    expect(port.name).to.equal('ttyUSB1');
    const byId = byIdName(port);
    expect(byId).to.equal('usb-Harness_Labs_Loop_Serial_BBB2-if00-port0');
    for (const name of ['ttyUSB1', '/dev/ttyUSB1', 'serial:BBB2:if0', byId, `/dev/serial/by-id/${byId}`, 'BBB2', '  serial:BBB2:if0  ']) {
      expect(findPort(lab.usb, name), name).to.equal(port);
    }
  });

  it('names a port without a serial number by its bus/port path', async () => {
    const { port } = await lab.plug({ serialNumber: null, at: '1-4' });
    expect(port.stablePath).to.equal('port:1-4:if0');
    expect(findPort(lab.usb, 'port:1-4:if0')).to.equal(port);
    expect(findPort(lab.usb, 'usb-Harness_Labs_Loop_Serial-if00-port0')).to.equal(port);
  });

  it('an unknown name is an UnknownPortError listing the ports present', async () => {
    await lab.plug({ serialNumber: 'AAA1' });
    for (const name of ['ttyUSB7', '/dev/ttyUSB7', 'serial:NOPE:if0', 'NOPE', 'port:9-9:if0', '/dev/serial/by-id/usb-x-if00-port0', '', '   ']) {
      const err = thrown(() => findPort(lab.usb, name));
      expect(err, `'${name}'`).to.be.instanceOf(UnknownPortError);
      expect((err as UnknownPortError).code).to.equal('ENODEV');
      expect((err as UnknownPortError).known).to.deep.equal(['serial:AAA1:if0']);
    }
    expect(() => findPort(lab.usb, undefined as unknown as string)).to.throw(UnknownPortError, "no usb-serial port 'undefined'");
  });

  it('with no port at all the error says so', () => {
    expect(() => resolvePort([], 'ttyUSB0')).to.throw(UnknownPortError, "no usb-serial port 'ttyUSB0' (no usb-serial port is present)");
  });

  it('a serial number, stable path or by-id name two adapters share is an AmbiguousPortError naming both; ttyUSB names tell them apart', async () => {
    const a = await lab.plug({ serialNumber: 'TWIN', at: '1-1' });
    const b = await lab.plug({ serialNumber: 'TWIN', at: '1-2' });
    for (const name of ['TWIN', 'serial:TWIN:if0', byIdName(a.port)]) {
      const err = thrown(() => findPort(lab.usb, name));
      expect(err, name).to.be.instanceOf(AmbiguousPortError);
      expect((err as AmbiguousPortError).code).to.equal('EINVAL');
      expect((err as AmbiguousPortError).candidates).to.deep.equal(['ttyUSB0 (serial:TWIN:if0)', 'ttyUSB1 (serial:TWIN:if0)']);
    }
    expect((thrown(() => findPort(lab.usb, 'TWIN')) as Error).message).to.equal(
      "'TWIN' names 2 usb-serial ports (ttyUSB0 (serial:TWIN:if0), ttyUSB1 (serial:TWIN:if0)); name one by its ttyUSB name or stable path",
    );
    expect(findPort(lab.usb, 'ttyUSB0')).to.equal(a.port);
    expect(findPort(lab.usb, '/dev/ttyUSB1')).to.equal(b.port);
  });

  it('a port that is gone is no longer found', async () => {
    const { device } = await lab.plug({ serialNumber: 'GONE' });
    expect(findPort(lab.usb, 'GONE').name).to.equal('ttyUSB0');
    await lab.unplug(device);
    expect(() => findPort(lab.usb, 'GONE')).to.throw(UnknownPortError);
  });
});
