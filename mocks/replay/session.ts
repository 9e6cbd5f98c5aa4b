// A capture's usbmon events grouped into transfers per device: each 'S' paired with its 'C' by
// URB id (usbmon.rst: the tag is the URB's address, reused once the URB completes), in submission
// order. Type-only use of src/capture: the caller reads the file.
import type { UsbmonEvent, UsbSetupPacket } from '../../src/capture/usbmon.ts';

export interface RecordedTransfer {
  transfer: UsbmonEvent['transfer'];
  /** Endpoint address with direction (0x80 = IN; control IN is 0x80). */
  endpoint: number;
  setup?: UsbSetupPacket;
  /** OUT data (control OUT data stage, bulk/interrupt OUT). */
  out?: Uint8Array;
  /** The completion's status (0 ok, -32 stall, ...); undefined: never completed in the capture. */
  status?: number;
  /** IN data of the completion. */
  in?: Uint8Array;
  /** Index among all host-to-device operations of the device before this one completed. */
  completedAfterHostOps: number;
}

export interface RecordedDevice {
  bus: number;
  device: number;
  transfers: RecordedTransfer[];
}

export class ReplayCaptureError extends Error {
  override readonly name = 'ReplayCaptureError';
}

/** The devices of a capture, in the order they first appear. */
export function recordedDevices(events: readonly UsbmonEvent[]): RecordedDevice[] {
  const devices = new Map<string, RecordedDevice>();
  const open = new Map<string, RecordedTransfer>();
  const submittedOps = new Map<string, number>();
  for (const e of events) {
    const dkey = `${e.bus}:${e.device}`;
    let d = devices.get(dkey);
    if (!d) devices.set(dkey, (d = { bus: e.bus, device: e.device, transfers: [] }));
    const ukey = `${dkey}:${e.id}`;
    if (e.type === 'S') {
      const t: RecordedTransfer = {
        transfer: e.transfer,
        endpoint: e.endpoint,
        ...(e.setup ? { setup: e.setup } : {}),
        ...(!(e.endpoint & 0x80) && e.data ? { out: e.data } : {}),
        completedAfterHostOps: 0,
      };
      d.transfers.push(t);
      open.set(ukey, t);
      submittedOps.set(dkey, (submittedOps.get(dkey) ?? 0) + 1);
    } else {
      const t = open.get(ukey);
      if (!t) continue; // a completion whose submission is before the capture started
      open.delete(ukey);
      t.status = e.status;
      if (e.endpoint & 0x80) t.in = e.data ?? new Uint8Array(0);
      t.completedAfterHostOps = submittedOps.get(dkey) ?? 0;
    }
  }
  return [...devices.values()];
}

/** The device a replay takes: by "bus:device", else the only (or first) one with a device descriptor. */
export function pickRecordedDevice(devices: readonly RecordedDevice[], which?: string): RecordedDevice {
  if (which !== undefined) {
    const m = /^(\d+):(\d+)$/.exec(which);
    if (!m) throw new ReplayCaptureError(`device '${which}' is not bus:device (e.g. 1:5)`);
    const d = devices.find((x) => x.bus === Number(m[1]) && x.device === Number(m[2]));
    if (!d) throw new ReplayCaptureError(`the capture has no device ${which}; it has ${devices.map((x) => `${x.bus}:${x.device}`).join(', ') || 'none'}`);
    return d;
  }
  const described = devices.filter((d) => descriptorAnswer(d, 1, 0) !== undefined && d.device !== 1);
  const d = described[0];
  if (!d) throw new ReplayCaptureError('the capture holds no GET_DESCRIPTOR(device) answer: a replay needs the device descriptor');
  return d;
}

/** The longest recorded answer to GET_DESCRIPTOR(type, index). */
export function descriptorAnswer(d: RecordedDevice, type: number, index: number, langId?: number): Uint8Array | undefined {
  let best: Uint8Array | undefined;
  for (const t of d.transfers) {
    const s = t.setup;
    if (!s || s.bmRequestType !== 0x80 || s.bRequest !== 6 || s.wValue !== ((type << 8) | index) || t.status !== 0 || !t.in) continue;
    if (langId !== undefined && s.wIndex !== langId) continue;
    if (!best || t.in.length > best.length) best = t.in;
  }
  return best;
}
