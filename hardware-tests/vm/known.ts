// Failures the real kernel revealed in src/, not fixed there yet (this tier fixes nothing in src/):
// each names its cause and the proposed fix. While a failure still looks exactly like this, its
// test shows pending with the reason (USB_HARNESS_VM_STRICT=1 fails it instead); once fixed, the
// test passes and the entry can go.
import type { KnownFailure } from './tier.ts';

/** libusb fails the in-flight IN transfers of an unplugged device; the pipeline leaves some unhandled. */
export const UNHANDLED_IN_PIPELINE: KnownFailure = {
  detail: /^NotFoundError: transferIn\(1, \d+\) on 0403:6001 at [\d.-]+: device disconnected \(LIBUSB_TRANSFER_NO_DEVICE\)/,
  why:
    'src/serial/pipeline.ts InPipeline.submit() attaches its handlers to a transfer only when the previous transfer ' +
    'settled (prev.then(() => transfer.then(...))); on unplug libusb fails the in-flight transfers in one go, a later ' +
    "one rejects while no handler is attached yet, and Node's default unhandled-rejection mode kills the process. Fix: " +
    'settle each transfer into a result at once (const outcome = transfer.then(ok => ({ ok }), err => ({ err })) ) ' +
    'and chain the in-order delivery on the outcomes.',
};

/** A port opened while its driver is being unbound: the user gets the backend's error, not the port's. */
export const OPEN_DURING_UNBIND: KnownFailure = {
  detail: /^(InvalidStateError: control.*device is (closed|closing)|AbortError: transfer on .* aborted: device closed)/,
  why:
    'the deregistration releases the interface (closing the device) while open() runs its control transfers; ' +
    "the backend's InvalidStateError (libusb) or AbortError (nusb) reaches the caller (the driver maps only " +
    'NotFoundError). Fix: ' +
    'src/serial/port.ts UsbSerialPort.open(): in its catch, when this.gone (markGone ran meanwhile), throw ' +
    'new PortDisconnectedError(this.name) with the original error as cause, as the success path already does.',
};

/**
 * Hotplug with libusb while drivers unbind: the guest job's event loop stopped for ~5 s (once per
 * run or so); hotplug events queued behind it, probes then hit devices already gone. 5 s is the
 * kernel's USB control timeout. Not root-caused; the likely blocker is a synchronous libusb call
 * on the JS thread during unbind (attachKernelDriver = USBDEVFS_CONNECT, which runs the kernel
 * ftdi_sio's probe, with its control requests, inside the ioctl; or releaseInterface/close).
 */
export const JS_THREAD_STALL: KnownFailure = {
  detail: /./,
  why:
    'suspected: src/usb/device.ts UsbInterface.release() → libusb kernelDriver.attach() (synchronous ' +
    'libusb_attach_kernel_driver: the kernel probes ftdi_sio inside the ioctl, up to its 5 s control timeout on a ' +
    "device being unplugged). Proposed: in src/usb/backends/libusb.ts make the attach asynchronous (write the " +
    "interface name to /sys/bus/usb/drivers_probe with fs.promises, on the thread pool), and confirm with the " +
    "job's stall monitor (hardware-tests/vm/jobs/hotplug.ts).",
};

/** Backend conformance checks, keyed `backend: check name`. */
export const CONFORMANCE_KNOWN: Record<string, KnownFailure> = {
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
