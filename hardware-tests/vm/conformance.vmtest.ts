// (a) The host-backend conformance suite against the real libusb and nusb backends, in a guest
// whose kernel enumerates QEMU's usb-serial on xhci; hotplug is QMP device_del/device_add.
import { expect } from 'chai';
import { CONFORMANCE_CHECKS, type ConformanceResult } from '../backend-conformance.ts';
import { withGuest, type GuestRun } from './runner.ts';
import { jobFailed, knownFailure, logTimings, skipWithoutVm, type KnownFailure } from './tier.ts';

const BACKENDS = ['libusb', 'nusb'] as const;

/** Failures seen on the real kernel, reported with a proposed fix in src/ (see the report / README). */
const KNOWN: Record<string, KnownFailure> = {
  'libusb: an idle IN transfer times out with TimeoutError': {
    detail: /idle transferIn: nothing after \d+ ms/,
    why:
      "the `usb` 2.x package's libusb event thread sleeps in poll() with libusb's 60 s default and is not woken for a " +
      'shorter transfer timeout: the callback comes after ~60 s (an explicit cancel completes in ~30 ms). Fix: ' +
      'src/usb/backends/libusb.ts LibusbUsbDevice.bulk(): submit with timeout 0 and arm a setTimeout(timeoutMs) that ' +
      'sets abortReason = TimeoutError and calls transfer.cancel(); settle() maps the CANCELLED status to abortReason.',
  },
  'nusb: an IN transfer cut short by releaseInterface rejects with AbortError': {
    detail: /cannot be borrowed mutably while another borrow is active/,
    why:
      'usb 3.1 holds the native device mutably while nativeTransferIn runs (no cancel): releaseInterface during it ' +
      'throws. Fix: src/usb/backends/nusb.ts NusbUsbDevice.releaseInterface() (and close/selectConfiguration/reset): ' +
      "after abortPending(), await the interface's queued native calls (they end within inTimeoutMs) before the native " +
      'call, and mark the tracker released only after it succeeded.',
  },
  'nusb: an idle IN transfer times out with TimeoutError': {
    detail: /cannot be borrowed mutably while another borrow is active|interface is busy/,
    why: 'follows from the releaseInterface failure of the previous check (the interface stayed claimed natively).',
  },
  'nusb: transfers on an unplugged device reject with NotFoundError': {
    detail: /cannot be borrowed mutably while another borrow is active|interface is busy/,
    why: 'follows from the releaseInterface failure of the abort check (the interface stayed claimed natively).',
  },
};

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
        it(c.name, function () {
          const results = (run!.result as Record<string, ConformanceResult[]>)[backend];
          const r = results?.find((x) => x.check === c.name);
          expect(r, `no result for ${backend}: ${c.name}`).to.exist;
          if (r!.outcome === 'skipped') {
            // Every check has what it needs in the guest: a skip here means the fixture broke.
            throw new Error(`skipped in the guest: ${r!.detail}`);
          }
          if (r!.outcome === 'failed') knownFailure(this, `${backend}: ${c.name}`, KNOWN[`${backend}: ${c.name}`], r!.detail);
          expect(r!.outcome, r!.detail).to.equal('passed');
        });
      }
    });
  }
});
