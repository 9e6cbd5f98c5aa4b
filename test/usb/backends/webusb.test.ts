import { expect } from 'chai';
import { NoUsbSubsystemError, type HostEvent } from '../../../src/usb/host.ts';
import { WebUsbBackend, createWebUsbBackend, type WebUsbLike } from '../../../src/usb/backends/webusb.ts';
import { waitFor } from './fake-libusb.ts';

/** A WebUSB `USB` object as a browser presents it: events through an EventTarget, getDevices(). */
class FakeUSB implements WebUsbLike {
  devices: USBDevice[] = [];
  listeners = 0;
  private readonly target = new EventTarget();
  async getDevices(): Promise<USBDevice[]> {
    return [...this.devices];
  }
  addEventListener(type: 'connect' | 'disconnect', listener: (ev: USBConnectionEvent) => void): void {
    this.listeners++;
    this.target.addEventListener(type, listener as unknown as EventListener);
  }
  removeEventListener(type: 'connect' | 'disconnect', listener: (ev: USBConnectionEvent) => void): void {
    this.listeners--;
    this.target.removeEventListener(type, listener as unknown as EventListener);
  }
  connect(d: USBDevice): void {
    this.devices.push(d);
    this.target.dispatchEvent(Object.assign(new Event('connect'), { device: d }));
  }
  disconnect(d: USBDevice): void {
    this.devices = this.devices.filter((x) => x !== d);
    this.target.dispatchEvent(Object.assign(new Event('disconnect'), { device: d }));
  }
}

// Type-level check: a browser's navigator.usb must fit the backend's parameter type.
const navigatorUsbFits = (usb: USB): WebUsbLike => usb;
void navigatorUsbFits;

function fakeDevice(productId: number): USBDevice {
  let opened = false;
  return {
    vendorId: 0x067b,
    productId,
    get opened() {
      return opened;
    },
    async close() {
      opened = false;
    },
    async open() {
      opened = true;
    },
  } as unknown as USBDevice;
}

describe('webusb backend', () => {
  it('without navigator.usb: NoUsbSubsystemError naming it', () => {
    expect(() => createWebUsbBackend()).to.throw(NoUsbSubsystemError, /navigator\.usb is not available/);
  });

  it('wraps devices without location or kernel driver, 4 transfers in flight, same object across calls', async () => {
    const usb = new FakeUSB();
    const d = fakeDevice(0x2303);
    usb.devices.push(d);
    const b = createWebUsbBackend({ usb });
    const [a] = await b.getDevices();
    const [again] = await b.getDevices();
    expect(again).to.equal(a);
    expect(a!.usb).to.equal(d);
    expect(a!.key).to.match(/^webusb:\d+$/);
    expect(a!.location).to.equal(undefined);
    expect(a!.kernelDriver).to.equal(undefined);
    expect(a!.maxTransfersInFlight).to.equal(4);
  });

  it('maps connect/disconnect events onto one HostDevice per attachment, in order', async () => {
    const usb = new FakeUSB();
    const b = new WebUsbBackend(usb);
    const events: HostEvent[] = [];
    const stop = await b.watch((e) => events.push(e));
    const d1 = fakeDevice(1);
    const d2 = fakeDevice(2);
    usb.connect(d1);
    usb.connect(d2);
    const listed = await b.getDevices();
    usb.disconnect(d1);
    usb.connect(d1); // forgotten at its disconnect, so this is a new attachment even as the same object
    await waitFor(() => events.length === 4);
    expect(events.map((e) => `${e.type} ${e.device.usb.productId}`)).to.deep.equal(['connect 1', 'connect 2', 'disconnect 1', 'connect 1']);
    expect(listed[0]).to.equal(events[0]!.device);
    expect(events[2]!.device).to.equal(events[0]!.device);
    expect(events[3]!.device).to.not.equal(events[0]!.device, 'a new attachment gets a new HostDevice');
    expect(events[3]!.device.key).to.not.equal(events[0]!.device.key);
    stop();
    await waitFor(() => usb.listeners === 0);
  });

  it('adopt: a device granted while watching is announced once, before adopt resolves; its disconnect follows', async () => {
    const usb = new FakeUSB();
    const b = new WebUsbBackend(usb);
    const events: HostEvent[] = [];
    await b.watch((e) => events.push(e));
    // requestDevice granted a device already plugged in: the browser fires no connect for it.
    const d = fakeDevice(7);
    usb.devices.push(d);
    const hd = await b.adopt(d);
    expect(events.map((e) => `${e.type} ${e.device.usb.productId}`), 'delivered when adopt resolved').to.deep.equal(['connect 7']);
    expect(events[0]!.device).to.equal(hd);
    expect(await b.adopt(d), 'a second adopt: same HostDevice').to.equal(hd);
    expect((await b.getDevices())[0]).to.equal(hd);
    expect(events).to.have.length(1);
    usb.disconnect(d);
    await waitFor(() => events.length === 2);
    expect(events[1]).to.deep.include({ type: 'disconnect', device: hd });
    await b.close();
  });

  it('adopt of a device already listed sends nothing; without watchers it only wraps', async () => {
    const usb = new FakeUSB();
    const b = new WebUsbBackend(usb);
    const d = fakeDevice(1);
    usb.devices.push(d);
    const [listed] = await b.getDevices();
    const events: HostEvent[] = [];
    await b.watch((e) => events.push(e));
    expect(await b.adopt(d)).to.equal(listed);
    const lone = new WebUsbBackend(new FakeUSB());
    expect((await lone.adopt(fakeDevice(2))).usb.productId).to.equal(2);
    await new Promise((r) => setTimeout(r, 5));
    expect(events).to.deep.equal([]);
    await b.close();
    expect(await b.adopt(d).catch((e: Error) => e.name)).to.equal('HostBackendError');
  });

  it('forget: watchers get the disconnect, the permission is revoked, and a new grant is announced again', async () => {
    const usb = new FakeUSB();
    const b = new WebUsbBackend(usb);
    const events: HostEvent[] = [];
    await b.watch((e) => events.push(e));
    let forgotten = 0;
    const d = Object.assign(fakeDevice(3), { forget: async () => void forgotten++ });
    usb.connect(d);
    await waitFor(() => events.length === 1);
    await b.forget(d);
    expect(events.map((e) => e.type)).to.deep.equal(['connect', 'disconnect']);
    expect(events[1]!.device).to.equal(events[0]!.device);
    expect(forgotten).to.equal(1);
    await b.adopt(d);
    expect(events.map((e) => e.type)).to.deep.equal(['connect', 'disconnect', 'connect']);
    expect(events[2]!.device, 'a new attachment for the new grant').to.not.equal(events[0]!.device);
    await b.close();
  });

  it('ignores a disconnect for a device it never handed out', async () => {
    const usb = new FakeUSB();
    const b = new WebUsbBackend(usb);
    const d = fakeDevice(1);
    usb.devices.push(d);
    const events: HostEvent[] = [];
    await b.watch((e) => events.push(e));
    usb.disconnect(d);
    await new Promise((r) => setTimeout(r, 5));
    expect(events).to.deep.equal([]);
    await b.close();
  });

  it('close stops listening and closes devices it opened', async () => {
    const usb = new FakeUSB();
    const d = fakeDevice(1);
    usb.devices.push(d);
    const b = new WebUsbBackend(usb);
    await b.watch(() => undefined);
    const [h] = await b.getDevices();
    await h!.usb.open();
    await b.close();
    expect(usb.listeners).to.equal(0);
    expect(d.opened).to.equal(false);
    try {
      await b.getDevices();
      expect.fail('getDevices after close must reject');
    } catch (err) {
      expect((err as Error).name).to.equal('HostBackendError');
    }
  });

  it('a listener that throws does not stop delivery to others', async () => {
    const usb = new FakeUSB();
    const b = new WebUsbBackend(usb);
    const seen: string[] = [];
    await b.watch(() => {
      throw new Error('boom');
    });
    await b.watch((e) => seen.push(e.type));
    usb.connect(fakeDevice(1));
    await waitFor(() => seen.length === 1);
    await b.close();
  });
});
