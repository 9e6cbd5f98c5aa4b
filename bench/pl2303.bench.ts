// PL2303 loopback throughput: an emulated PL2303HX (6 Mbaud) and an HXN (PL2303GC, 12 Mbaud)
// with a loopback plug, through the whole stack next to the raw mock ceiling (bench/loopback.ts):
// 16 KiB OUT, 4 KiB IN.
import { createPl2303Driver, PL2303_ID_TABLE } from '../drivers/pl2303/index.ts';
import { createPl2303, type Pl2303Part } from '../mocks/pl2303/index.ts';
import { looped, loopbackVsCeiling, QUIET } from './loopback.ts';

const IN_SIZE = 4096;

export async function run(): Promise<void> {
  const driverSet = { name: 'pl2303', specs: [createPl2303Driver({ readTransferSize: IN_SIZE, writeTransferSize: 16384 })], ids: PL2303_ID_TABLE };
  const cases: [string, Pl2303Part, number][] = [
    ['HX', 'PL2303HX', 6_000_000],
    ['HXN', 'PL2303GC', 12_000_000],
  ];
  for (const [label, part, baudRate] of cases) {
    await loopbackVsCeiling({
      family: 'pl2303',
      label,
      part,
      emulate: () => looped(createPl2303(part, QUIET), (c) => c.uart),
      async rawSetup(device) {
        await device.claimInterface(0);
        return { inEp: 3, outEp: 2 };
      },
      driverSet,
      settings: { baudRate },
      inSize: IN_SIZE,
    });
  }
}
