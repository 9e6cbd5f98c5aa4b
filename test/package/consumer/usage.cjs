// How a user wires a stack from the installed package's public API: a mock USB host, the FTDI
// and PL2303 usb-serial drivers registered on it, an FT232R and a PL2303HX each with a loopback
// plug, and bytes looped back through both ports. Shared by the ESM and the CommonJS consumer
// (each passes the modules it loaded its own way), so the wiring is written once.
'use strict';

/**
 * @param {typeof import('usb-serial-harness')} api the package root
 * @param {typeof import('usb-serial-harness/mocks')} mocks the mock lab
 * @returns {Promise<{ ports: { name: string, driver: string, sent: number, echoed: boolean }[], usb: import("usb-serial-harness").UsbSubsystem, close(): Promise<void> }>}
 */
async function loopBackThroughFtdiAndPl2303(api, mocks) {
  // The emulated chips' timers are unref'd (an emulation must not hold a process open), so a
  // program whose only pending work is the emulated line holds the process open itself, as the
  // CLI does; close() lets it go.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const host = new mocks.MockUsbHost();
  const usb = new api.UsbSubsystem({ model: new api.DriverModel() });
  const stop = await usb.attachBackend(host);
  const registrations = [
    await api.registerUsbSerialDrivers([api.ftdiSerialDriver], 'ftdi_sio', api.FTDI_IDS, { usbBus: usb.bus }),
    await api.registerUsbSerialDrivers([api.pl2303Driver], 'pl2303', api.PL2303_ID_TABLE, { usbBus: usb.bus }),
  ];

  const ftdi = mocks.mockFt232r({ serialNumber: 'PKGFTDI' });
  mocks.loopbackPlug(ftdi.uart(0));
  host.plug(ftdi.device);
  const pl2303 = mocks.createPl2303('PL2303HX');
  mocks.loopbackPlug(pl2303.chip.uart);
  host.plug(pl2303.device);
  await host.flush();
  await usb.settled();

  const ports = [];
  for (const [driver, registration] of [['ftdi_sio', registrations[0]], ['pl2303', registrations[1]]]) {
    for (const port of registration.ports()) {
      const data = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) & 0xff);
      const received = [];
      let count = 0;
      let done;
      let timer;
      const echoed = new Promise((resolve, reject) => {
        done = resolve;
        timer = setTimeout(() => reject(new Error(`${port.name}: ${count} of ${data.length} bytes came back`)), 10_000);
      });
      const sub = port.events.subscribe((e) => {
        if (e.type !== 'data') return;
        received.push(e.data);
        count += e.data.length;
        if (count >= data.length) done();
      });
      await port.open({ baudRate: 115200 });
      const sent = await port.write(data);
      try {
        await echoed;
      } finally {
        clearTimeout(timer);
      }
      sub.unsubscribe();
      await port.close();
      const back = Buffer.concat(received);
      ports.push({ name: port.name, driver, sent, echoed: back.equals(Buffer.from(data)) });
    }
  }

  async function close() {
    host.unplugAll();
    await host.flush();
    await usb.settled();
    for (const r of registrations) await api.deregisterUsbSerialDrivers(r);
    stop();
    await usb.stop();
    await host.close();
    clearInterval(keepAlive);
  }
  return { ports, usb, close };
}

module.exports = { loopBackThroughFtdiAndPl2303 };
