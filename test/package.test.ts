// The package imports by its own name (package.json "exports"), as users and scripts do.
import { expect } from 'chai';
import * as api from 'usb-serial-harness';

describe('package: public names', () => {
  it('exports the driver model from the package root', () => {
    for (const name of ['Bus', 'Device', 'Driver', 'getDriver', 'putDriver', 'driverAttach', 'attrs', 'uevents', 'DriverModel']) {
      expect(api, name).to.have.property(name);
    }
    expect(api.attrs.list('')).to.be.an('array');
    expect(typeof api.uevents.subscribe).to.equal('function');
  });
});

describe('package: usb and usb-serial names', () => {
  it('exports the usb layer, backends, hotplug and usb-serial registration from the root', () => {
    for (const name of ['registerUsbSerialDrivers', 'deregisterUsbSerialDrivers', 'hotplugEvents', 'UsbSubsystem', 'createHostBackend', 'createLibusbBackend', 'createNusbBackend', 'createWebUsbBackend', 'NoUsbSubsystemError']) {
      expect(api, name).to.have.property(name);
    }
  });

  it('serves the mock lab as the usb-serial-harness/mocks subpath', async () => {
    const mocks = await import('usb-serial-harness/mocks');
    for (const name of ['MockUsbHost', 'MockUsbDevice', 'loopbackPlug', 'nullModem', 'mockDeviceFromLsusb']) expect(mocks, name).to.have.property(name);
  });
});
