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
