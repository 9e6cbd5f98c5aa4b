// The whole stack for PL2303 tests: the shared chip lab (../chip-lab.ts) with this family's driver.
import type { Pl2303Adapter, Pl2303DriverOptions } from '../../../drivers/pl2303/index.ts';
import { chipLab, LAB_FAMILIES, type ChipLab, type LabOptions } from '../chip-lab.ts';

export { collect, controlLines, hex, nextEvent } from '../chip-lab.ts';

export type Pl2303Lab = ChipLab<Pl2303Adapter>;

export const pl2303Lab = (options: LabOptions<Pl2303DriverOptions> = {}): Promise<Pl2303Lab> => chipLab(LAB_FAMILIES.pl2303, options);
