// How the command line prints numbers (src/cli/output.ts) and the loopback summary.
import { expect } from 'chai';
import { describeLoopback, lineBytesPerSecond, type LoopbackResult } from '../../src/cli/commands/loopback.ts';
import { formatBaud, formatRate, grouped } from '../../src/cli/output.ts';

describe('cli: number formats', () => {
  it('baud rates: whole baud with separators, the requested rate when the chip cannot hit it', () => {
    expect(formatBaud(115384.61538461539, 115200)).to.equal('115,385 baud (115,200 requested)');
    expect(formatBaud(115200, 115200)).to.equal('115,200 baud');
    expect(formatBaud(9600.4, 9600)).to.equal('9,600 baud');
    expect(formatBaud(3_000_000)).to.equal('3,000,000 baud');
  });

  it('data rates: B/s, KiB/s with one decimal below 100, whole KiB/s above', () => {
    expect(formatRate(900)).to.equal('900 B/s');
    expect(formatRate(11_520)).to.equal('11.3 KiB/s');
    expect(formatRate(2_650_000)).to.equal('2,588 KiB/s');
    expect(grouped(1234567.6)).to.equal('1,234,568');
  });

  it('what a line carries: start, data, parity and stop bits per byte', () => {
    expect(lineBytesPerSecond({ baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 })).to.equal(11520);
    expect(lineBytesPerSecond({ baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 2 })).to.equal(9600 / 11);
  });

  it('the loopback summary line', () => {
    const r: LoopbackResult = {
      port: 'ttyUSB0',
      peer: 'ttyUSB0',
      bytes: 1048576,
      received: 1048576,
      mismatches: 0,
      firstMismatchAt: null,
      lineErrors: 0,
      seconds: 0.396,
      bytesPerSecond: 2_650_000,
      requestedBaudRate: 115200,
      actualBaudRate: 115384.61538461539,
      lineBytesPerSecond: 11538,
      paced: false,
      ok: true,
    };
    expect(describeLoopback(r)).to.equal('ttyUSB0 -> ttyUSB0: 1048576/1048576 bytes in 0.396 s (2,588 KiB/s) at 115,385 baud (115,200 requested)');
  });
});
