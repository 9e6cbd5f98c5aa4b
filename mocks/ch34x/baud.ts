// How an emulated CH34x runs its prescaler (0x12) and divisor (0x13) registers, written from the
// register description in nospam2000/ch341-baudrate-calculation rather than the driver's encoder:
// a 12 MHz crystal, a prescaler chosen by bits 0-2 of register 0x12, then 256 - reg13 as divisor.

/** Prescaler factor by register 0x12 bits 0-2 (bit 2 halves it). */
const PRESCALER: readonly number[] = [1024, 128, 16, 2, 512, 64, 8, 1];

export class Ch34xChipBaudRejected extends Error {
  override readonly name = 'Ch34xChipBaudRejected';
}

/** The rate for a register pair; divisors the chip does not run (below 2, below 9 with bit 2) are refused. */
export function ch34xChipBaud(prescalerReg: number, divisorReg: number, quirky = false): number {
  const code = prescalerReg & 0x07;
  const div = divisorReg === 0 ? 256 : 256 - divisorReg;
  if (div < 2) throw new Ch34xChipBaudRejected(`divisor register 0x${divisorReg.toString(16)} gives divisor ${div}`);
  if (code & 0x04 && div < 9) throw new Ch34xChipBaudRejected(`divisor ${div} with the undivided clock (bit 2) is below 9`);
  if (quirky && code & 0x04 && (code & 0x03) < 3) throw new Ch34xChipBaudRejected(`this part does not run prescaler code ${code}`);
  return 12_000_000 / (PRESCALER[code] * div);
}
