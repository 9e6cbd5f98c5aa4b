// Cancelling transfers in flight. WebUSB has no per-transfer cancel; releasing the interface
// aborts every transfer pending on it (Chromium, node-usb and the mock lab alike), so the generic
// layer releases and claims it again. Under the device's serialisation, so the bus's own release
// cannot interleave; re-claimed only while the bus still holds the interface for this driver (a
// close racing an unbind must not leave it claimed with no driver).
import { childLog } from '../../log.ts';
import type { UsbInterface } from '../../usb/device.ts';

const log = childLog('serial.generic');

export async function cancelTransfers(intf: UsbInterface, keepClaimed: () => boolean): Promise<void> {
  if (intf.usbDevice.gone) return;
  await intf.usbDevice.serialize(async () => {
    if (!intf.claimed) return;
    try {
      await intf.usb.releaseInterface(intf.interfaceNumber);
    } catch (err) {
      log.debug({ err, intf: intf.name }, 'release to cancel transfers failed');
    }
    if (!intf.usbDevice.gone && intf.claimed && keepClaimed()) {
      try {
        await intf.usb.claimInterface(intf.interfaceNumber);
      } catch (err) {
        log.warn({ err, intf: intf.name }, 'could not claim the interface again after cancelling transfers');
      }
    }
  });
}
