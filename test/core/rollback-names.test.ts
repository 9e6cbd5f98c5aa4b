// A registration refused because its name is taken undoes only what it created: the driver that
// owns the name keeps its directory and its new_id / remove_id / bind / unbind files, on a toy
// bus and on the usb and usb-serial buses (Linux: bus_add_driver's error path).
import { expect } from 'chai';
import { DriverModel, RegistrationError, inspectDriver } from '../../src/core/index.ts';
import { registerUsbSerialDrivers, UsbSerialRegistrationError, usbSerialBusOf } from '../../src/serial/index.ts';
import { UsbSubsystem, usbDevice } from '../../src/usb/index.ts';
import { FakeBackend } from '../usb/fake-backend.ts';
import { recordingSpec, SerialCalls } from '../serial/helpers.ts';
import { CallLog, newToyBus, toyDriver, ToyDevice } from './toy-bus.ts';

describe('core: a duplicate name rolls back only its own registration', () => {
  it('toy bus: the first driver keeps new_id, remove_id, bind and unbind, and they work', async () => {
    const { bus, model } = newToyBus();
    const first = toyDriver(bus, 'same', [], new CallLog());
    await bus.registerDriver(first);
    const dir = 'bus/toy/drivers/same';
    const before = model.attrs.list(dir);
    expect(before).to.include.members(['new_id', 'remove_id', 'bind', 'unbind']);

    const err = await bus.registerDriver(toyDriver(bus, 'same', [], new CallLog())).catch((e) => e);
    expect(err).to.be.instanceOf(RegistrationError);
    expect(model.attrs.list(dir)).to.deep.equal(before);

    await bus.addDevice(new ToyDevice('d', 1, 2));
    expect((await model.attrs.write(`${dir}/new_id`, '0001 0002')).ok, 'new_id').to.equal(true);
    expect(inspectDriver(first).boundDevices).to.deep.equal(['d']);
    expect((await model.attrs.write(`${dir}/unbind`, 'd')).ok, 'unbind').to.equal(true);
    expect((await model.attrs.write(`${dir}/bind`, 'd')).ok, 'bind').to.equal(true);
    expect((await model.attrs.write(`${dir}/remove_id`, '0001 0002')).ok, 'remove_id').to.equal(true);
    expect(inspectDriver(first).dynamicIds).to.deep.equal([]);
  });

  async function lab() {
    const usb = new UsbSubsystem({ model: new DriverModel() });
    await usb.attachBackend(new FakeBackend());
    return { usb, model: usb.model, usbBus: usb.bus, serialBus: usbSerialBusOf(usb.bus) };
  }

  it('usb bus: a second usb-serial registration under a taken name leaves the first usb driver its files', async () => {
    const { usb, model, usbBus } = await lab();
    const calls = new SerialCalls();
    await registerUsbSerialDrivers([recordingSpec('ser_a', [usbDevice(1, 1)], calls)], 'combo', [usbDevice(1, 1)], { usbBus });
    const before = model.attrs.list('bus/usb/drivers/combo');
    expect(before).to.deep.equal(['bind', 'unbind']);
    const err = await registerUsbSerialDrivers([recordingSpec('ser_b', [usbDevice(2, 2)], calls)], 'combo', [usbDevice(2, 2)], { usbBus }).catch((e) => e);
    expect(err).to.be.instanceOf(UsbSerialRegistrationError);
    expect(model.attrs.list('bus/usb/drivers/combo')).to.deep.equal(before);
    await usb.stop();
  });

  it('usb-serial bus: a serial driver under a taken name leaves the first its new_id and remove_id', async () => {
    const { usb, model, usbBus } = await lab();
    const calls = new SerialCalls();
    await registerUsbSerialDrivers([recordingSpec('ser_a', [usbDevice(1, 1)], calls)], 'one', [usbDevice(1, 1)], { usbBus });
    const before = model.attrs.list('bus/usb-serial/drivers/ser_a');
    expect(before).to.deep.equal(['new_id', 'remove_id']);
    const err = await registerUsbSerialDrivers([recordingSpec('ser_a', [usbDevice(2, 2)], calls)], 'two', [usbDevice(2, 2)], { usbBus }).catch((e) => e);
    expect(err).to.be.instanceOf(UsbSerialRegistrationError);
    expect(model.attrs.list('bus/usb-serial/drivers/ser_a')).to.deep.equal(before);
    const w = await model.attrs.write('bus/usb-serial/drivers/ser_a/new_id', '0003 0003');
    expect(w.ok, w.ok ? '' : w.error.message).to.equal(true);
    expect((await model.attrs.write('bus/usb-serial/drivers/ser_a/remove_id', '0003 0003')).ok).to.equal(true);
    await usb.stop();
  });
});
