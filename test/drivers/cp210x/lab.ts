// The whole stack for CP210x tests: the shared chip lab (../chip-lab.ts) with this family's driver.
import type { Cp210xAdapter, Cp210xDriverOptions } from '../../../drivers/cp210x/index.ts';
import { chipLab, LAB_FAMILIES, type ChipLab, type LabOptions } from '../chip-lab.ts';

export { collect, controlLines, hex, nextEvent } from '../chip-lab.ts';
export { sleep as tick } from '../../helpers/async.ts';

export type Cp210xLab = ChipLab<Cp210xAdapter>;

export const cp210xLab = (options: LabOptions<Cp210xDriverOptions> = {}): Promise<Cp210xLab> => chipLab(LAB_FAMILIES.cp210x, options);
