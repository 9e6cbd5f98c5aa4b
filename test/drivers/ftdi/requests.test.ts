import { expect } from 'chai';
import fc from 'fast-check';
import {
  FTDI_REQUEST,
  FTDI_RESET,
  FtdiRequestError,
  encodeErrorChar,
  encodeEventChar,
  encodeFlowControl,
  encodeGetLatencyTimer,
  encodeGetModemStatus,
  encodeModemCtrl,
  encodePurge,
  encodeReset,
  encodeSetBaudRate,
  encodeSetData,
  encodeSetLatencyTimer,
  ftdiSetDataValue,
  ftdiSetupPacket,
} from '../../../drivers/ftdi/requests.ts';
import type { FtdiControlSetup, FtdiLineSettings } from '../../../drivers/ftdi/requests.ts';

/** The 8 setup bytes, written out as hex for comparison with captures. */
function bytes(s: FtdiControlSetup): string {
  return Buffer.from(ftdiSetupPacket(s)).toString('hex');
}

describe('FTDI requests: codes', () => {
  it('has the vendor request numbers', () => {
    expect(FTDI_REQUEST).to.deep.equal({
      RESET: 0, MODEM_CTRL: 1, SET_FLOW_CTRL: 2, SET_BAUD_RATE: 3, SET_DATA: 4, GET_MODEM_STATUS: 5,
      SET_EVENT_CHAR: 6, SET_ERROR_CHAR: 7, SET_LATENCY_TIMER: 9, GET_LATENCY_TIMER: 0x0a,
      SET_BITMODE: 0x0b, READ_PINS: 0x0c, READ_EEPROM: 0x90,
    });
  });

  it('produces WebUSB-shaped vendor/device setups', () => {
    const s: USBControlTransferParameters = encodeReset(1);
    expect(s).to.deep.equal({ requestType: 'vendor', recipient: 'device', request: 0, value: 0, index: 1 });
  });
});

describe('FTDI requests: RESET and purge', () => {
  it('reset is 40 00 0000 <channel> 0000', () => {
    expect(bytes(encodeReset())).to.equal('4000000000000000');
    expect(bytes(encodeReset(2))).to.equal('4000000002000000');
  });

  it('purges host output with 1 and host input with 2 (libftdi SIO_TCOFLUSH / SIO_TCIFLUSH)', () => {
    expect(FTDI_RESET).to.deep.equal({ SIO: 0, PURGE_HOST_OUTPUT: 1, PURGE_HOST_INPUT: 2 });
    expect(bytes(encodePurge('output'))).to.equal('4000010000000000');
    expect(bytes(encodePurge('input'))).to.equal('4000020000000000');
    expect(bytes(encodePurge('input', 1))).to.equal('4000020001000000');
    expect(() => encodePurge('both' as 'input')).to.throw(FtdiRequestError, /'input' or 'output'/);
  });
});

describe('FTDI requests: SET_DATA', () => {
  it('encodes 8N1, 7E1, 8O2, mark, space, 1.5 stop bits and break byte for byte', () => {
    const cases: [FtdiLineSettings, string][] = [
      [{ dataBits: 8, parity: 'none', stopBits: 1 }, '4004080000000000'], // 0x0008
      [{ dataBits: 7, parity: 'even', stopBits: 1 }, '4004070200000000'], // 0x0207
      [{ dataBits: 8, parity: 'odd', stopBits: 2 }, '4004081100000000'], // 0x1108: odd 1<<8, stop 2<<11
      [{ dataBits: 8, parity: 'mark', stopBits: 1 }, '4004080300000000'], // 0x0308
      [{ dataBits: 8, parity: 'space', stopBits: 1 }, '4004080400000000'], // 0x0408
      [{ dataBits: 7, parity: 'none', stopBits: 1.5 }, '4004070800000000'], // 0x0807
      [{ dataBits: 8, parity: 'none', stopBits: 1, break: true }, '4004084000000000'], // 0x4008
      [{ dataBits: 8, parity: 'space', stopBits: 2, break: true }, '4004085400000000'], // 0x5408
    ];
    for (const [line, hex] of cases) expect(bytes(encodeSetData(line)), JSON.stringify(line)).to.equal(hex);
    expect(bytes(encodeSetData({ dataBits: 8, parity: 'none', stopBits: 1 }, 3))).to.equal('4004080003000000');
  });

  it('keeps each field in its bits', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<7 | 8>(7, 8),
        fc.constantFrom('none', 'odd', 'even', 'mark', 'space' as const),
        fc.constantFrom<1 | 1.5 | 2>(1, 1.5, 2),
        fc.boolean(),
        (dataBits, parity, stopBits, brk) => {
          const v = ftdiSetDataValue({ dataBits, parity, stopBits, break: brk });
          expect(v & 0xff).to.equal(dataBits);
          expect((v >> 8) & 7).to.equal(['none', 'odd', 'even', 'mark', 'space'].indexOf(parity));
          expect((v >> 11) & 7).to.equal([1, 1.5, 2].indexOf(stopBits));
          expect((v >> 14) & 1).to.equal(brk ? 1 : 0);
          expect(v >> 15).to.equal(0);
        },
      ),
    );
  });

  it('refuses 5, 6 or 9 data bits, unknown parity and stop bits', () => {
    for (const dataBits of [5, 6, 9]) {
      expect(() => ftdiSetDataValue({ dataBits: dataBits as 8, parity: 'none', stopBits: 1 })).to.throw(
        FtdiRequestError,
        `FTDI UARTs support 7 or 8 data bits, not ${dataBits}`,
      );
    }
    expect(() => ftdiSetDataValue({ dataBits: 8, parity: 'toString' as 'none', stopBits: 1 })).to.throw(FtdiRequestError, /parity 'toString'/);
    expect(() => ftdiSetDataValue({ dataBits: 8, parity: 'none', stopBits: 3 as 1 })).to.throw(FtdiRequestError, /stop bits/);
  });
});

describe('FTDI requests: MODEM_CTRL', () => {
  it('sets and clears DTR and RTS with their mask bits', () => {
    expect(bytes(encodeModemCtrl({ dtr: true }))).to.equal('4001010100000000'); // 0x0101
    expect(bytes(encodeModemCtrl({ dtr: false }))).to.equal('4001000100000000'); // 0x0100
    expect(bytes(encodeModemCtrl({ rts: true }))).to.equal('4001020200000000'); // 0x0202
    expect(bytes(encodeModemCtrl({ rts: false }))).to.equal('4001000200000000'); // 0x0200
    expect(bytes(encodeModemCtrl({ dtr: true, rts: true }))).to.equal('4001030300000000');
    expect(bytes(encodeModemCtrl({ dtr: false, rts: false }, 2))).to.equal('4001000302000000');
    expect(bytes(encodeModemCtrl({ dtr: true, rts: false }))).to.equal('4001010300000000');
  });

  it('refuses a request that changes nothing', () => {
    expect(() => encodeModemCtrl({})).to.throw(FtdiRequestError, /needs dtr and\/or rts/);
  });
});

describe('FTDI requests: SET_FLOW_CTRL', () => {
  it('puts the handshake in wIndex high byte and the channel in the low byte', () => {
    expect(bytes(encodeFlowControl({ type: 'none' }))).to.equal('4002000000000000');
    expect(bytes(encodeFlowControl({ type: 'rts-cts' }))).to.equal('4002000000010000'); // wIndex 0x0100
    expect(bytes(encodeFlowControl({ type: 'dtr-dsr' }))).to.equal('4002000000020000'); // 0x0200
    expect(bytes(encodeFlowControl({ type: 'rts-cts' }, 2))).to.equal('4002000002010000'); // 0x0102
    expect(bytes(encodeFlowControl({ type: 'none' }, 1))).to.equal('4002000001000000');
  });

  it('XON/XOFF: wValue = XOFF << 8 | XON, wIndex 0x04 << 8 | channel', () => {
    expect(bytes(encodeFlowControl({ type: 'xon-xoff' }))).to.equal('4002111300040000'); // 0x1311, 0x0400
    expect(bytes(encodeFlowControl({ type: 'xon-xoff', xon: 0x51, xoff: 0x53 }, 1))).to.equal('4002515301040000');
    expect(() => encodeFlowControl({ type: 'xon-xoff', xon: 0x100 })).to.throw(FtdiRequestError, /XON character/);
    expect(() => encodeFlowControl({ type: 'xon-xoff', xon: 0x13, xoff: 0x13 })).to.throw(FtdiRequestError, /must differ/);
    expect(() => encodeFlowControl({ type: 'bogus' } as never)).to.throw(FtdiRequestError, /unknown flow control 'bogus'/);
  });
});

describe('FTDI requests: the rest', () => {
  it('event and error chars: char in bits 0-7, enable in bit 8', () => {
    expect(bytes(encodeEventChar(0x0d, true))).to.equal('40060d0100000000');
    expect(bytes(encodeEventChar(0x0d, false, 1))).to.equal('40060d0001000000');
    expect(bytes(encodeErrorChar(0x3f, true, 2))).to.equal('40073f0102000000');
    expect(() => encodeEventChar(256, true)).to.throw(FtdiRequestError, /event character must be an integer 0\.\.255, got 256/);
  });

  it('latency timer set and get', () => {
    expect(bytes(encodeSetLatencyTimer(16))).to.equal('4009100000000000');
    expect(bytes(encodeSetLatencyTimer(1, 2))).to.equal('4009010002000000');
    expect(bytes(encodeGetLatencyTimer(1))).to.equal('c00a000001000100');
    expect(() => encodeSetLatencyTimer(0)).to.throw(FtdiRequestError, /1\.\.255 ms, got 0/);
    expect(() => encodeSetLatencyTimer(256)).to.throw(FtdiRequestError);
  });

  it('modem status reads 2 bytes, 1 on the SIO', () => {
    expect(bytes(encodeGetModemStatus())).to.equal('c005000000000200');
    expect(bytes(encodeGetModemStatus(0, true))).to.equal('c005000000000100');
  });

  it('SET_BAUD_RATE from the baud encoder', () => {
    const s = encodeSetBaudRate('FT2232H', 115200, 1);
    expect(bytes(s)).to.equal('400368c001020000'); // wValue 0xC068, wIndex 0x0201
    expect(s.baud.divisor).to.equal(0x2c068);
    expect(bytes(encodeSetBaudRate('FT232R', 9600))).to.equal('4003384100000000');
  });

  it('refuses channels that do not fit in a byte', () => {
    expect(() => encodeReset(256)).to.throw(FtdiRequestError, /channel/);
    expect(() => encodeSetData({ dataBits: 8, parity: 'none', stopBits: 1 }, -1)).to.throw(FtdiRequestError);
  });
});
