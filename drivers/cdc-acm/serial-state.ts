// CDC notifications on the interrupt endpoint (PSTN120 §6.5): an 8-byte header (bmRequestType
// 0xA1, bNotification, wValue, wIndex, wLength) and wLength data bytes. SERIAL_STATE (0x20) carries
// a u16: bit 0 DCD, 1 DSR, 2 break, 3 ring, 4 framing, 5 parity, 6 overrun. Notifications longer
// than the endpoint's packet arrive in pieces; the assembler joins them as Linux's cdc-acm.c
// `acm_ctrl_irq` does (it keeps a buffer until wLength + 8 bytes are in).

import { CDC_SERIAL_STATE } from '../../src/serial/driver-api.ts';

export const ACM_NOTIFICATION = Object.freeze({ NETWORK_CONNECTION: 0x00, RESPONSE_AVAILABLE: 0x01, SERIAL_STATE: 0x20 } as const);

export const ACM_SERIAL_STATE = CDC_SERIAL_STATE;

export interface AcmSerialState {
  dcd: boolean;
  dsr: boolean;
  /** Event bits: each notification that has them set counts one event (Linux). */
  brk: boolean;
  ring: boolean;
  framing: boolean;
  parity: boolean;
  overrun: boolean;
  raw: number;
}

export function decodeAcmSerialState(v: number): AcmSerialState {
  const S = ACM_SERIAL_STATE;
  return {
    dcd: !!(v & S.DCD),
    dsr: !!(v & S.DSR),
    brk: !!(v & S.BREAK),
    ring: !!(v & S.RING),
    framing: !!(v & S.FRAMING),
    parity: !!(v & S.PARITY),
    overrun: !!(v & S.OVERRUN),
    raw: v,
  };
}

export function encodeAcmSerialStateNotification(interfaceNumber: number, state: number): Uint8Array {
  return Uint8Array.of(0xa1, ACM_NOTIFICATION.SERIAL_STATE, 0, 0, interfaceNumber & 0xff, interfaceNumber >> 8, 2, 0, state & 0xff, (state >> 8) & 0xff);
}

export interface AcmNotification {
  bmRequestType: number;
  bNotification: number;
  wValue: number;
  wIndex: number;
  data: Uint8Array;
  /** Set for a SERIAL_STATE with wLength 2; Linux ignores one with another length. */
  serialState?: AcmSerialState;
}

/** Joins notification fragments into whole notifications. */
export class AcmNotificationAssembler {
  private buf: number[] = [];

  /** Bytes of an incomplete notification held. */
  get pending(): number {
    return this.buf.length;
  }

  reset(): void {
    this.buf = [];
  }

  /** Feeds one interrupt transfer; returns the notifications it completed. */
  push(packet: Uint8Array): AcmNotification[] {
    for (const b of packet) this.buf.push(b);
    const out: AcmNotification[] = [];
    while (this.buf.length >= 8) {
      const wLength = this.buf[6] | (this.buf[7] << 8);
      if (this.buf.length < 8 + wLength) break;
      const n = this.buf.splice(0, 8 + wLength);
      const data = Uint8Array.from(n.slice(8));
      const note: AcmNotification = { bmRequestType: n[0], bNotification: n[1], wValue: n[2] | (n[3] << 8), wIndex: n[4] | (n[5] << 8), data };
      if (note.bNotification === ACM_NOTIFICATION.SERIAL_STATE && wLength === 2) note.serialState = decodeAcmSerialState(data[0] | (data[1] << 8));
      out.push(note);
    }
    return out;
  }
}
