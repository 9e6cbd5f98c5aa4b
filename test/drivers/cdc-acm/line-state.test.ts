// Line coding and SERIAL_STATE notifications against the CDC PSTN layout (dwDTERate LE, then
// bCharFormat, bParityType, bDataBits; notification header 0xA1 0x20 wValue wIndex wLength).
import { expect } from 'chai';
import fc from 'fast-check';
import { AcmLineCodingError, decodeAcmLineCoding, encodeAcmLineCoding, type AcmLineCoding } from '../../../drivers/cdc-acm/line-coding.ts';
import { AcmNotificationAssembler, encodeAcmSerialStateNotification } from '../../../drivers/cdc-acm/serial-state.ts';

describe('CDC-ACM line coding', () => {
  it('9600 8N1 is 80 25 00 00 00 00 08; 115200 7E2 is 00 c2 01 00 02 02 07', () => {
    expect([...encodeAcmLineCoding({ baudRate: 9600, stopBits: 1, parity: 'none', dataBits: 8 })]).to.deep.equal([0x80, 0x25, 0, 0, 0, 0, 8]);
    expect([...encodeAcmLineCoding({ baudRate: 115200, stopBits: 2, parity: 'even', dataBits: 7 })]).to.deep.equal([0x00, 0xc2, 0x01, 0, 2, 2, 7]);
  });

  it('refuses fields out of range with the field named', () => {
    expect(() => decodeAcmLineCoding(Uint8Array.of(0x80, 0x25, 0, 0, 3, 0, 8))).to.throw(AcmLineCodingError, /bCharFormat 3/);
    expect(() => decodeAcmLineCoding(Uint8Array.of(0x80, 0x25, 0, 0, 0, 5, 8))).to.throw(AcmLineCodingError, /bParityType 5/);
    expect(() => decodeAcmLineCoding(Uint8Array.of(0x80, 0x25, 0, 0, 0, 0, 9))).to.throw(AcmLineCodingError, /bDataBits 9/);
    expect(() => decodeAcmLineCoding(Uint8Array.of(0x80, 0x25))).to.throw(AcmLineCodingError, /7 bytes/);
    expect(() => encodeAcmLineCoding({ baudRate: 0, stopBits: 1, parity: 'none', dataBits: 8 })).to.throw(AcmLineCodingError, /dwDTERate/);
  });

  it('property: decode(encode(c)) = c', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.constantFrom(1, 1.5, 2),
        fc.constantFrom('none', 'odd', 'even', 'mark', 'space'),
        fc.constantFrom(5, 6, 7, 8, 16),
        (baudRate, stopBits, parity, dataBits) => {
          const c = { baudRate, stopBits, parity, dataBits } as AcmLineCoding;
          expect(decodeAcmLineCoding(encodeAcmLineCoding(c))).to.deep.equal(c);
        },
      ),
    );
  });
});

describe('CDC-ACM SERIAL_STATE notifications', () => {
  it('decodes DCD|DSR and the event bits; reassembles an 8-byte-endpoint split; keeps wIndex', () => {
    const n = encodeAcmSerialStateNotification(2, 0x03 | 0x10);
    expect([...n]).to.deep.equal([0xa1, 0x20, 0, 0, 2, 0, 2, 0, 0x13, 0]);
    const a = new AcmNotificationAssembler();
    expect(a.push(n.subarray(0, 8))).to.deep.equal([]);
    expect(a.pending).to.equal(8);
    const [got] = a.push(n.subarray(8));
    expect(got.wIndex).to.equal(2);
    expect(got.serialState).to.deep.include({ dcd: true, dsr: true, framing: true, brk: false, raw: 0x13 });
    expect(a.pending).to.equal(0);
  });

  it('a SERIAL_STATE with wLength other than 2 is passed on without a state (Linux ignores it)', () => {
    const a = new AcmNotificationAssembler();
    const [got] = a.push(Uint8Array.of(0xa1, 0x20, 0, 0, 0, 0, 1, 0, 0x03));
    expect(got.serialState).to.equal(undefined);
  });

  it('property: any split of a run of notifications gives them all back in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0x7f }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 16 }), (states, size) => {
        const stream = Uint8Array.from(states.flatMap((s) => [...encodeAcmSerialStateNotification(0, s)]));
        const a = new AcmNotificationAssembler();
        const got: number[] = [];
        for (let at = 0; at < stream.length; at += size) for (const n of a.push(stream.subarray(at, at + size))) got.push(n.serialState!.raw);
        expect(got).to.deep.equal(states);
      }),
    );
  });
});
