// Violations the stress harness finds in code below it that is not fixed yet. Each names the
// problem and the fix; the stress tests fail on anything not listed here. Empty this list as the
// fixes land.
import type { Violation } from '../../src/stress/index.ts';

export interface KnownIssue {
  readonly invariant: Violation['invariant'];
  readonly match: RegExp;
  readonly what: string;
  readonly fix: string;
}

const PL2303_DONGLES = '(?:pl2303\\w*|custom-pl2303)';

export const KNOWN_ISSUES: readonly KnownIssue[] = [
  {
    invariant: 'modem-lines',
    match: new RegExp(`\\(link [^>]+>${PL2303_DONGLES}\\)$`),
    what:
      'drivers/pl2303/driver.ts getModemLines() answers from the status cached from interrupt notifications; a port ' +
      'opened (or re-bound) while the far end already drives its lines reads them low until they change',
    fix: 'read the line status when the port opens (or let the emulation and driver agree on an initial notification)',
  },
];

export function isKnown(v: Violation): KnownIssue | undefined {
  return KNOWN_ISSUES.find((k) => k.invariant === v.invariant && k.match.test(v.message));
}

/** The violations not explained by a known issue. */
export function unknownViolations(vs: readonly Violation[]): Violation[] {
  return vs.filter((v) => !isKnown(v));
}
