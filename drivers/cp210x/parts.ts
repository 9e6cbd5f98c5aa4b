// CP210x part detection from the vendor GET_PARTNUM byte (VENDOR_SPECIFIC 0xFF, wValue 0x370B, one
// byte, device recipient), and the baud-rate model of each port, as Linux's cp210x.c
// (`cp210x_determine_type`, `cp210x_init_max_speed`) assigns them.

/** GET_PARTNUM values Linux knows (CP210X_PARTNUM_*). */
export const CP210X_PARTNUM = Object.freeze({
  CP2101: 0x01,
  CP2102: 0x02,
  CP2103: 0x03,
  CP2104: 0x04,
  CP2105: 0x05,
  CP2108: 0x08,
  CP2102N_QFN28: 0x20,
  CP2102N_QFN24: 0x21,
  CP2102N_QFN20: 0x22,
  /** What Linux records when the read fails. */
  UNKNOWN: 0xff,
} as const);

export type Cp210xFamily = 'CP2101' | 'CP2102' | 'CP2103' | 'CP2104' | 'CP2105' | 'CP2108' | 'CP2102N' | 'unknown';

/**
 * How one port of a part maps a requested rate (the first argument of encodeCp210xBaud):
 * the families, plus the two CP2105 interfaces, which differ (interface 0 is the Enhanced
 * Communications Interface, interface 1 the Standard Communications Interface).
 */
export type Cp210xBaudPart = Exclude<Cp210xFamily, 'CP2105'> | 'CP2105-ECI' | 'CP2105-SCI';

export const CP210X_BAUD_PARTS: readonly Cp210xBaudPart[] = Object.freeze([
  'CP2101', 'CP2102', 'CP2103', 'CP2104', 'CP2105-ECI', 'CP2105-SCI', 'CP2108', 'CP2102N', 'unknown',
] as Cp210xBaudPart[]);

export interface Cp210xPartInfo {
  readonly partnum: number;
  readonly family: Cp210xFamily;
  /** Package, for the CP2102N (QFN28/24/20). */
  readonly variant: string | null;
  /** Interfaces (ports) the part has: 2 on CP2105, 4 on CP2108, else 1. */
  readonly ports: number;
}

/** The part a GET_PARTNUM byte names; a byte Linux does not list is 'unknown' (it then uses the defaults). */
export function cp210xPartFromPartnum(partnum: number): Cp210xPartInfo {
  const info = (family: Cp210xFamily, variant: string | null = null, ports = 1): Cp210xPartInfo =>
    Object.freeze({ partnum, family, variant, ports });
  switch (partnum) {
    case CP210X_PARTNUM.CP2101:
      return info('CP2101');
    case CP210X_PARTNUM.CP2102:
      return info('CP2102');
    case CP210X_PARTNUM.CP2103:
      return info('CP2103');
    case CP210X_PARTNUM.CP2104:
      return info('CP2104');
    case CP210X_PARTNUM.CP2105:
      return info('CP2105', null, 2);
    case CP210X_PARTNUM.CP2108:
      return info('CP2108', null, 4);
    case CP210X_PARTNUM.CP2102N_QFN28:
      return info('CP2102N', 'QFN28');
    case CP210X_PARTNUM.CP2102N_QFN24:
      return info('CP2102N', 'QFN24');
    case CP210X_PARTNUM.CP2102N_QFN20:
      return info('CP2102N', 'QFN20');
    default:
      return info('unknown');
  }
}

/** The baud model of the port on `interfaceNumber` of a family (`cp210x_init_max_speed`). */
export function cp210xBaudPart(family: Cp210xFamily, interfaceNumber: number): Cp210xBaudPart {
  if (family === 'CP2105') return interfaceNumber === 0 ? 'CP2105-ECI' : 'CP2105-SCI';
  return family;
}
