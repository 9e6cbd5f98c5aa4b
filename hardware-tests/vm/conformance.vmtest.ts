// (a) The host-backend conformance suite against the real libusb and nusb backends, in a guest
// whose kernel enumerates QEMU's usb-serial on xhci; hotplug is QMP device_del/device_add.
import { expect } from 'chai';
import { CONFORMANCE_CHECKS, type ConformanceResult } from '../backend-conformance.ts';
import { withGuest, type GuestRun } from './runner.ts';
import { jobFailed, logTimings, skipWithoutVm } from './tier.ts';

const BACKENDS = ['libusb', 'nusb'] as const;

describe('VM: host backend conformance on a real kernel (QEMU usb-serial on xhci)', function () {
  this.timeout(300_000);
  skipWithoutVm();
  let run: GuestRun<void> | undefined;

  before(async function () {
    run = await withGuest({ devices: [{ id: 'ftdi' }], job: 'hardware-tests/vm/jobs/conformance.ts', env: { VM_BACKENDS: BACKENDS.join(',') } });
    logTimings('conformance (libusb + nusb, one guest)', run);
    if (run.status !== 0) throw jobFailed('conformance job', run);
  });

  for (const backend of BACKENDS) {
    describe(backend, () => {
      for (const c of CONFORMANCE_CHECKS) {
        it(c.name, () => {
          const results = (run!.result as Record<string, ConformanceResult[]>)[backend];
          const r = results?.find((x) => x.check === c.name);
          expect(r, `no result for ${backend}: ${c.name}`).to.exist;
          if (r!.outcome === 'skipped') {
            // Every check has what it needs in the guest: a skip here means the fixture broke.
            throw new Error(`skipped in the guest: ${r!.detail}`);
          }
          expect(r!.outcome, r!.detail).to.equal('passed');
        });
      }
    });
  }
});
