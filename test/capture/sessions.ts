// Recorded sessions of our own drivers on emulated chips: plug, open at a baud rate, write a few
// bytes through a loopback plug, read them back, close, unplug. The captures the tshark and
// replay tests use.
import type { SerialDriverSpec, SerialSettings } from '../../src/serial/index.ts';
import { createStack } from '../../src/stack.ts';
import type { UsbDeviceId } from '../../src/usb/index.ts';
import { MemoryCapture } from '../../src/capture/index.ts';
import { FTDI_IDS, ftdiSerialDriver } from '../../drivers/ftdi/index.ts';
import { PL2303_ID_TABLE, pl2303Driver } from '../../drivers/pl2303/index.ts';
import { createPl2303, loopbackPlug, mockFt232r, MockUsbHost, type MockUsbDevice } from '../../mocks/index.ts';
import { sleep } from '../helpers/async.ts';


export interface Session {
  capture: MemoryCapture;
  device: MockUsbDevice;
}

export const PAYLOAD = Uint8Array.from([0x68, 0x65, 0x6c, 0x6c, 0x6f]);

/** Runs one session on a device behind a recorder; returns the capture. */
export async function recordSession(
  device: MockUsbDevice,
  driver: { specs: SerialDriverSpec[]; name: string; ids: readonly UsbDeviceId[] },
  settings: Partial<SerialSettings>,
  payload = PAYLOAD,
): Promise<Session> {
  const host = new MockUsbHost();
  const capture = new MemoryCapture();
  const stack = await createStack({ host: capture.wrapBackend(host), driverSets: [driver], closeHost: false });
  const { usb } = stack;
  const reg = stack.registrations[0]!;
  try {
    host.plug(device);
    await host.flush();
    await usb.settled();
    const [port] = reg.ports();
    if (!port) throw new Error(`${driver.name} did not bind`);
    await port.open(settings);
    let got = 0;
    const sub = port.events.subscribe((e) => {
      if (e.type === 'data') got += e.data.length;
    });
    await port.write(payload);
    const end = Date.now() + 2000;
    while (got < payload.length && Date.now() < end) await sleep(2);
    sub.unsubscribe();
    if (got < payload.length) throw new Error(`the loopback returned ${got} of ${payload.length} bytes`);
    await port.close();
    host.unplug(device);
    await host.flush();
    await usb.settled();
  } finally {
    await stack.close();
    await host.close();
  }
  return { capture, device };
}

export const FTDI_DRIVER = { specs: [ftdiSerialDriver], name: 'ftdi_sio', ids: FTDI_IDS };
export const PL2303_DRIVER = { specs: [pl2303Driver], name: 'pl2303', ids: PL2303_ID_TABLE };

export function ft232rWithLoopback(): MockUsbDevice {
  const f = mockFt232r({ serialNumber: 'CAPFTDI1' });
  loopbackPlug(f.uart());
  return f.device;
}

export function pl2303hxWithLoopback(): MockUsbDevice {
  const p = createPl2303('PL2303HX');
  loopbackPlug(p.chip.uart);
  return p.device;
}

/**
 * Plays a session against a replayed device: bind, open with `settings`, write what the recorded
 * host wrote on the port's interface, wait for the recorded echo, close, unplug. Returns the diff.
 */
export async function replaySession(
  lab: import('../../mocks/index.ts').ReplayLab,
  driver: { specs: SerialDriverSpec[]; name: string; ids: readonly UsbDeviceId[] },
  settings: Partial<SerialSettings>,
) {
  const stack = await createStack({ host: lab.backend, driverSets: [driver], closeHost: false });
  const { usb } = stack;
  const reg = stack.registrations[0]!;
  try {
    lab.plugAll();
    await lab.flush();
    await usb.settled();
    const [port] = reg.ports();
    if (!port) throw new Error(`${driver.name} did not bind the replayed device`);
    await port.open(settings);
    let got = 0;
    const sub = port.events.subscribe((e) => {
      if (e.type === 'data') got += e.data.length;
    });
    const writes = lab.recordedWrites(port.serial.intf.interfaceNumber);
    const total = writes.reduce((n, w) => n + w.length, 0);
    for (const w of writes) await port.write(w);
    const end = Date.now() + 1000;
    while (got < total && Date.now() < end) await sleep(2);
    sub.unsubscribe();
    await port.close();
    lab.unplug('replay');
    await lab.flush();
    await usb.settled();
  } finally {
    await stack.close();
    await lab.close();
  }
  return lab.diff();
}
