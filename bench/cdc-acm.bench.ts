// CDC-ACM loopback throughput: an emulated Arduino Uno (CDC-ACM, 64-byte bulk packets) with a
// loopback plug, through the whole stack next to the raw mock ceiling (bench/loopback.ts): 16 KiB
// OUT, 1 KiB IN as the generic layer reads; the raw run claims both interfaces.
import { CDC_ACM_ID_TABLE, createCdcAcmDriver } from '../drivers/cdc-acm/index.ts';
import { createCdcAcm } from '../mocks/cdc-acm/index.ts';
import { looped, loopbackVsCeiling, QUIET } from './loopback.ts';

export async function run(): Promise<void> {
  await loopbackVsCeiling({
    family: 'cdc_acm',
    label: 'uno',
    part: 'uno',
    emulate: () => looped(createCdcAcm('uno', QUIET), (c) => c.uart),
    async rawSetup(device) {
      await device.claimInterface(0);
      await device.claimInterface(1);
      return { inEp: 3, outEp: 4 };
    },
    driverSet: { name: 'cdc_acm', specs: [createCdcAcmDriver()], ids: CDC_ACM_ID_TABLE },
    inSize: 1024,
  });
}
