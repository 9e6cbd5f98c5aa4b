// The whole stack for CH341 tests: the shared chip lab (../chip-lab.ts) with this family's driver.
import type { Ch341Adapter, Ch341DriverOptions } from '../../../drivers/ch341/index.ts';
import { chipLab, LAB_FAMILIES, type ChipLab, type LabOptions } from '../chip-lab.ts';

export { collect, controlLines, hex, nextEvent } from '../chip-lab.ts';
export { sleep as tick } from '../../helpers/async.ts';

export type Ch341Lab = ChipLab<Ch341Adapter>;

export const ch341Lab = (options: LabOptions<Ch341DriverOptions> = {}): Promise<Ch341Lab> => chipLab(LAB_FAMILIES.ch341, options);
