// CH341 loopback throughput: an emulated CH340 (version 0x31) with a loopback plug at 3 Mbaud,
// through the whole stack next to the raw mock ceiling (bench/loopback.ts): 16 KiB OUT, 512-byte
// IN as Linux's ch341 reads. The raw run sets the chip's rate registers as the driver would (one
// WRITE_REG with the "send now" flag) so the chip hands over short packets alike.
import { CH341_ID_TABLE, createCh341Driver, encodeCh341Baud } from '../drivers/ch341/index.ts';
import { createCh34x } from '../mocks/ch34x/index.ts';
import { looped, loopbackVsCeiling, QUIET } from './loopback.ts';

const IN_SIZE = 512;
const BAUD = 3_000_000;

export async function run(): Promise<void> {
  await loopbackVsCeiling({
    family: 'ch341',
    label: 'CH340',
    part: 'CH340',
    emulate: () => looped(createCh34x('CH340', QUIET), (c) => c.uart),
    async rawSetup(device) {
      await device.claimInterface(0);
      const enc = encodeCh341Baud(BAUD, 0x31);
      await device.controlTransferOut({ requestType: 'vendor', recipient: 'device', request: 0x9a, value: 0x1312, index: enc.wIndex });
      return { inEp: 2, outEp: 2 };
    },
    driverSet: { name: 'ch341', specs: [createCh341Driver({ readTransferSize: IN_SIZE })], ids: CH341_ID_TABLE },
    settings: { baudRate: BAUD },
    inSize: IN_SIZE,
  });
}
