// CP210x loopback throughput: an emulated CP2102N (3 Mbaud) and a CP2105's ECI (2 Mbaud) with a
// loopback plug, through the whole stack (the cp210x driver in event mode) next to the raw mock
// ceiling (bench/loopback.ts): 16 KiB OUT, 4 KiB IN. The raw run enables the port (IFC_ENABLE) and
// sets the rate, with no event insertion.
import { createCp210xDriver, CP210X_ID_TABLE } from '../drivers/cp210x/index.ts';
import { createCp210x, type Cp210xPart } from '../mocks/cp210x/index.ts';
import { benchPayload, looped, loopbackVsCeiling, QUIET } from './loopback.ts';

const IN_SIZE = 4096;
const BAUD: Record<string, number> = { CP2102N: 3_000_000, CP2105: 2_000_000 };

/** The pattern with 0xEC (the event escape) replaced, so the raw run and the driver run move the same bytes. */
function payload(n: number): Uint8Array {
  return benchPayload(n).map((v) => (v === 0xec ? 0xed : v));
}

export async function run(): Promise<void> {
  const driverSet = { name: 'cp210x', specs: [createCp210xDriver({ readTransferSize: IN_SIZE, writeTransferSize: 16384 })], ids: CP210X_ID_TABLE };
  for (const part of ['CP2102N', 'CP2105'] as const satisfies readonly Cp210xPart[]) {
    const baudRate = BAUD[part]!;
    await loopbackVsCeiling({
      family: 'cp210x',
      label: part,
      part,
      emulate: () => looped(createCp210x(part, QUIET), (c) => c.uart(0)),
      async rawSetup(device) {
        await device.claimInterface(0);
        const setup = (request: number, value: number) => ({ requestType: 'vendor' as const, recipient: 'interface' as const, request, value, index: 0 });
        await device.controlTransferOut(setup(0x00, 1)); // IFC_ENABLE
        const rate = new Uint8Array(4);
        new DataView(rate.buffer).setUint32(0, baudRate, true);
        await device.controlTransferOut(setup(0x1e, 0), rate); // SET_BAUDRATE
        const model = createCp210x(part).chip.port(0).model;
        return { inEp: model.bulkIn & 0x7f, outEp: model.bulkOut };
      },
      driverSet,
      pickPort: (ports) => ports.find((p) => p.serial.intf.interfaceNumber === 0),
      settings: { baudRate },
      inSize: IN_SIZE,
      payload,
      context: { baud: baudRate },
    });
  }
}
