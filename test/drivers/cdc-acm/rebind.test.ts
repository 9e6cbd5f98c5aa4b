// Unbinding cdc_acm from a board and binding it again, as the stress harness's deregistrations and
// unplugs do, on an emulated Uno with a loopback plug (DTR -> DSR and DCD), its function given a
// firmware that reports the lines in SERIAL_STATE (the stock one sends none: boards.ts).
// - An open port unbound with the device still there hangs up: DTR and RTS drop (Linux:
//   acm_disconnect -> tty_vhangup -> tty_port_shutdown -> acm_port_dtr_rts(0) under HUPCL). The
//   next binding's first open raises them again, so the board sees a change and reports DSR/DCD
//   in a SERIAL_STATE; a host never sees them before one (the driver starts from 0, as acm->ctrlin).
// - The data interface claimed while the control interface probes is not on the bus yet; giving it
//   back before it was added announces no unbind (nothing announced its bind), as Linux's
//   usb_driver_release_interface does for an interface that is not registered.
import { expect } from 'chai';
import type { Uevent } from '../../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers } from '../../../src/serial/index.ts';
import { CDC_ACM_ID_TABLE, createCdcAcmDriver } from '../../../drivers/cdc-acm/index.ts';
import { createCdcAcm, loopbackPlug } from '../../../mocks/index.ts';
import type { ControlSetup } from '../../../mocks/device.ts';
import { acmLab, tick } from './lab.ts';

async function until(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await tick(2);
  }
}

describe('CDC-ACM: unbind and bind again', function () {
  this.timeout(20_000);

  it('an open port unbound with the board still plugged drops DTR/RTS; after the rebind the port reads DSR/DCD again', async () => {
    const lab = await acmLab();
    try {
      const { device, chip } = createCdcAcm('uno', { chip: { serialState: true } });
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      await until(async () => (await port.getSignals()).dsr);
      expect(chip.controlLines).to.deep.include({ dtr: true, rts: true });

      await deregisterUsbSerialDrivers(lab.reg);
      expect(chip.controlLines, 'hung up at unbind').to.deep.include({ dtr: false, rts: false });

      const again = await registerUsbSerialDrivers([createCdcAcmDriver()], 'cdc_acm', CDC_ACM_ID_TABLE, { usbBus: lab.usb.bus });
      try {
        await lab.usb.settled();
        const next = again.ports()[0]!;
        await next.open({ baudRate: 115200 });
        await until(async () => (await next.getSignals()).dsr);
        expect(await next.getSignals()).to.deep.include({ dsr: true, dcd: true, cts: true });
        await next.close();
      } finally {
        await deregisterUsbSerialDrivers(again);
      }
    } finally {
      await lab.close();
    }
  });

  it('a closed port is left alone at unbind (no tty to hang up): DTR stays as the last close left it', async () => {
    const lab = await acmLab();
    try {
      const { device, chip } = createCdcAcm('uno', { chip: { serialState: true } });
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      await port.close({ hupcl: false });
      expect(chip.controlLines).to.deep.include({ dtr: true, rts: true });
      const refusals = chip.refusals.length;
      await deregisterUsbSerialDrivers(lab.reg);
      expect(chip.controlLines).to.deep.include({ dtr: true, rts: true });
      expect(chip.refusals.length).to.equal(refusals);
    } finally {
      await lab.close();
    }
  });

  it('unplugged while open: the unbind sends nothing to the gone board and nothing escapes', async () => {
    const lab = await acmLab();
    try {
      const { device, chip } = createCdcAcm('uno', { chip: { serialState: true } });
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      lab.host.unplug(device);
      await lab.host.flush();
      await lab.usb.settled();
      expect(lab.reg.ports()).to.deep.equal([]);
      expect(device.resources().claimedInterfaces).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });

  it('a probe that fails after claiming the data interface gives it back without an unbind uevent for a bind never announced', async () => {
    const lab = await acmLab();
    const events: string[] = [];
    const sub = lab.usb.model.uevents.subscribe((e: Uevent) => {
      if (e.kind === 'device' && /:1\.1$/.test(e.name)) events.push(`${e.action}${e.driver ? ` ${e.driver}` : ''}`);
    });
    try {
      const { device, chip } = createCdcAcm('uno', { chip: { serialState: true } });
      // The board refuses acm_probe's SET_LINE_CODING once: the probe of interface 0 fails after
      // it claimed interface 1, which the bus has not added yet.
      const onControl = chip.onControl.bind(chip);
      let refused = false;
      chip.onControl = (s: ControlSetup, data: Uint8Array | undefined) => {
        if (!refused && s.requestType === 'class' && s.bRequest === 0x20) {
          refused = true;
          return 'stall';
        }
        return onControl(s, data);
      };
      await lab.plug(device);
      expect(refused).to.equal(true);
      expect(lab.probeErrors).to.have.length(1);
      expect(lab.probeErrors[0]!.intf).to.match(/:1\.0$/);
      expect(lab.reg.ports()).to.deep.equal([]);
      // Interface 1 came onto the bus afterwards as an ordinary unbound interface.
      expect(events).to.deep.equal(['add']);
      expect(device.resources().claimedInterfaces).to.deep.equal([]);
    } finally {
      sub.unsubscribe();
      await lab.close();
    }
  });
});
