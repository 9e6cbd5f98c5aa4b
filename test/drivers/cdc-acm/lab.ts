// The whole stack for CDC-ACM tests: the shared chip lab (../chip-lab.ts) with this family's driver.
import type { CdcAcmAdapter, CdcAcmDriverOptions } from '../../../drivers/cdc-acm/index.ts';
import { chipLab, LAB_FAMILIES, type ChipLab, type LabOptions } from '../chip-lab.ts';

export { collect, controlLines, hex, nextEvent } from '../chip-lab.ts';
export { sleep as tick } from '../../helpers/async.ts';

export type AcmLab = ChipLab<CdcAcmAdapter>;

export const acmLab = (options: LabOptions<CdcAcmDriverOptions> = {}): Promise<AcmLab> => chipLab(LAB_FAMILIES.cdcAcm, options);
