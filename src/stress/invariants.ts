// The invariants as pure functions: each takes a snapshot of what the run can see (through the
// core's inspection API, the lab's resource counts, the port's answers) and returns what it
// checked and what it found. The run applies the verdicts to its monitor (checks.ts).
import type { DriverSnapshot } from '../core/index.ts';
import type { Invariant } from './monitor.ts';
import type { DongleResources } from './target.ts';

export interface Finding {
  readonly invariant: Invariant;
  readonly message: string;
  readonly details?: Record<string, unknown>;
  /** Findings with the same key are one problem seen again. */
  readonly key?: string;
}

export interface Verdicts {
  /** Each entry one check made (an invariant may appear many times). */
  readonly checked: Invariant[];
  readonly findings: Finding[];
}

function verdicts(): { checked: Invariant[]; findings: Finding[] } {
  return { checked: [], findings: [] };
}

/** A driver whose deregistration resolved keeps no dynamic ID, no pin, no bound device. */
export function goneDriverVerdicts(gone: readonly { driver: DriverSnapshot; event: number }[], formatId: (id: unknown) => string): Verdicts {
  const v = verdicts();
  for (const { driver: d, event } of gone) {
    v.checked.push('leaked-dynamic-id');
    if (d.dynamicIds.length > 0) {
      v.findings.push({
        invariant: 'leaked-dynamic-id',
        message: `${d.bus} driver '${d.name}' still has ${d.dynamicIds.length} dynamic ID(s) (${d.dynamicIds.map(formatId).join(', ')}) after its deregistration resolved`,
        key: `gone-dynid|${d.bus}|${d.name}|${event}`,
      });
    }
    v.checked.push('leaked-pin');
    if (d.pinCount > 0) {
      v.findings.push({
        invariant: 'leaked-pin',
        message: `${d.bus} driver '${d.name}' holds ${d.pinCount} pin(s) after its deregistration resolved: ${d.pins.map((p) => p.takenAt).join('; ')}`,
        key: `gone-pin|${d.bus}|${d.name}|${event}`,
      });
    }
    v.checked.push('probe-remove-pairing');
    if (d.boundDevices.length > 0) {
      v.findings.push({
        invariant: 'probe-remove-pairing',
        message: `${d.bus} driver '${d.name}' still has ${d.boundDevices.length} bound device(s) after its deregistration resolved`,
        key: `gone-bound|${d.bus}|${d.name}|${event}`,
      });
    }
  }
  return v;
}

export interface RegisteredSetIds {
  /** Each serial driver: its dynamic IDs (as vvvv:pppp keys) and the keys written to its new_id. */
  readonly serialDrivers: readonly { name: string; ids: readonly string[]; written: ReadonlySet<string> }[];
  readonly usbDriver: { name: string; ids: readonly string[] };
}

/** Dynamic IDs come only from new_id writes, and the usb driver keeps only its serial drivers' ones. */
export function dynIdVerdicts(sets: readonly RegisteredSetIds[]): Verdicts {
  const v = verdicts();
  for (const s of sets) {
    const serialKeys = new Set<string>();
    for (const sd of s.serialDrivers) {
      for (const key of sd.ids) {
        serialKeys.add(key);
        v.checked.push('leaked-dynamic-id');
        if (!sd.written.has(key)) v.findings.push({ invariant: 'leaked-dynamic-id', message: `serial driver '${sd.name}' has dynamic ID ${key} that nobody wrote to its new_id in this registration`, key: `unwritten|${sd.name}|${key}` });
      }
    }
    for (const key of s.usbDriver.ids) {
      v.checked.push('leaked-dynamic-id');
      if (!serialKeys.has(key)) v.findings.push({ invariant: 'leaked-dynamic-id', message: `usb driver '${s.usbDriver.name}' keeps dynamic ID ${key} that none of its serial drivers has`, key: `orphan|${s.usbDriver.name}|${key}` });
    }
  }
  return v;
}

export interface DongleClaims {
  readonly dongle: string;
  /** The lab's view of the device; null when the target cannot tell. */
  readonly resources: DongleResources | null;
  /** Interfaces of its live attachment: claimed flag and whether a driver is bound (or probing). */
  readonly interfaces: readonly { name: string; claimed: boolean; bound: boolean }[];
  /** Interface numbers something may hold: bound, probing or claimed on any attachment still on the bus. */
  readonly holdable: readonly number[];
}

/** Claimed interfaces and open devices only while something is bound; nothing held once unplugged. */
export function claimVerdicts(dongles: readonly DongleClaims[]): Verdicts {
  const v = verdicts();
  for (const d of dongles) {
    for (const i of d.interfaces) {
      v.checked.push('leaked-claim');
      if (i.claimed && !i.bound) v.findings.push({ invariant: 'leaked-claim', message: `${i.name} is still claimed with no driver bound`, key: `claimed-flag|${i.name}` });
    }
    const r = d.resources;
    if (!r) continue;
    v.checked.push('leaked-claim');
    if (!r.plugged) {
      if (r.claimedInterfaces.length || r.opened || r.pendingTransfers) {
        v.findings.push({ invariant: 'leaked-claim', message: `unplugged dongle ${d.dongle} still shows ${JSON.stringify(r)}`, key: `unplugged|${d.dongle}` });
      }
      continue;
    }
    // usb-serial binds interface by interface and the bus claims what it binds: an interface
    // claimed with no driver bound to it is one somebody took and did not give back.
    const holdable = new Set(d.holdable);
    const stray = r.claimedInterfaces.filter((n) => !holdable.has(n));
    if (stray.length) {
      v.findings.push({
        invariant: 'leaked-claim',
        message: `dongle ${d.dongle}: interface(s) ${stray.join(', ')} claimed with no driver bound to them`,
        details: { dongle: d.dongle, claimed: r.claimedInterfaces, bound: [...d.holdable] },
        key: `stray-claim|${d.dongle}|${stray.join(',')}`,
      });
    }
    if (r.opened && holdable.size === 0) v.findings.push({ invariant: 'leaked-claim', message: `dongle ${d.dongle} is left open with no driver bound`, key: `open|${d.dongle}` });
  }
  return v;
}

/**
 * At a quiescent point nothing holds a pin, and every device a driver lists as bound names that
 * driver as its own. `deviceDriver` maps "bus/device" to the device's driver name.
 */
export function quiescentDriverVerdicts(drivers: readonly DriverSnapshot[], deviceDriver: ReadonlyMap<string, string | null>, label: string): Verdicts {
  const v = verdicts();
  for (const d of drivers) {
    v.checked.push('leaked-pin');
    if (d.pinCount > 0) {
      v.findings.push({ invariant: 'leaked-pin', message: `${d.bus} driver '${d.name}' holds ${d.pinCount} pin(s) with nothing running (${label}): ${d.pins.map((p) => p.takenAt).join('; ')}`, key: `pin|${d.bus}|${d.name}` });
    }
    for (const dev of d.boundDevices) {
      v.checked.push('one-driver-per-device');
      const actual = deviceDriver.get(`${d.bus}/${dev}`) ?? null;
      if (actual !== d.name) v.findings.push({ invariant: 'one-driver-per-device', message: `${dev} is in '${d.name}''s bound devices but its driver is '${actual ?? 'none'}'` });
    }
  }
  return v;
}

export interface DongleActivity {
  readonly dongle: string;
  readonly device: string | null;
  readonly pendingTransfers: number;
  readonly anyBound: boolean;
  /** 'abort' listeners on the device's disconnect signal; null when they cannot be counted. */
  readonly abortListeners: number | null;
}

/** Transfers pending and disconnect listeners kept only while a driver is bound. */
export function activityVerdicts(dongles: readonly DongleActivity[], label: string): Verdicts {
  const v = verdicts();
  for (const d of dongles) {
    v.checked.push('leaked-transfer');
    if (d.pendingTransfers > 0 && !d.anyBound) {
      v.findings.push({ invariant: 'leaked-transfer', message: `dongle ${d.dongle} has ${d.pendingTransfers} transfer(s) pending with no driver bound (${label})`, key: `pending|${d.dongle}` });
    }
    if (d.device !== null && !d.anyBound && d.abortListeners !== null) {
      v.checked.push('leaked-listener');
      if (d.abortListeners > 0) v.findings.push({ invariant: 'leaked-listener', message: `${d.device} (${d.dongle}) keeps ${d.abortListeners} 'abort' listener(s) on its disconnect signal with no driver bound`, key: `abort|${d.dongle}` });
    }
  }
  return v;
}

/** No more uevent subscribers than at the start; one ttyUSB minor per live port. */
export function countVerdicts(c: { ueventObservers: number; ueventBaseline: number; minorsInUse: number; livePorts: number }, label: string): Verdicts {
  const v = verdicts();
  v.checked.push('leaked-listener');
  if (c.ueventObservers > c.ueventBaseline) v.findings.push({ invariant: 'leaked-listener', message: `${c.ueventObservers - c.ueventBaseline} uevent subscriber(s) more than at the start (${label})`, key: `uevents|${c.ueventObservers}` });
  v.checked.push('leaked-minor');
  if (c.minorsInUse !== c.livePorts) v.findings.push({ invariant: 'leaked-minor', message: `${c.minorsInUse} ttyUSB minor(s) in use for ${c.livePorts} port(s) (${label})`, key: `minor|${c.minorsInUse - c.livePorts}` });
  return v;
}

export interface ModemSample {
  readonly link: string;
  readonly from: string;
  readonly receiver: string;
  /** What the sending end set. */
  readonly set: { dtr: boolean; rts: boolean };
  /** What the receiving port reads. */
  readonly read: { cts: boolean; dsr: boolean; dcd: boolean };
  /** Inputs the receiving driver does not read from the device, with the value it reports instead (CDC-ACM's CTS). */
  readonly fixed?: { cts?: boolean; dsr?: boolean; dcd?: boolean };
  /**
   * false: the receiving device never reports its input lines (the lab's topology says so per
   * port, from the emulation profile), so the port reads the driver's values with no report: the
   * fixed ones, the others 0. Default true.
   */
  readonly reported?: boolean;
}

/**
 * On a live link the receiver reads the sender's RTS as CTS and its DTR as DSR and DCD (the
 * lab's wires are null modems), whenever the sender set them, before or after the receiver
 * opened: the lines are the wire's state, so a port reports them from its open on, not only
 * changes it happened to see. A receiver whose device reports no input lines reads the values
 * its driver starts from (Linux's cdc-acm: DSR/DCD 0, CTS 1), whatever the sender set.
 */
export function modemVerdicts(samples: readonly ModemSample[]): Verdicts {
  const v = verdicts();
  for (const s of samples) {
    v.checked.push('modem-lines');
    const { set: want, read: lines } = s;
    const fixed = s.fixed ?? {};
    const expect =
      s.reported === false
        ? { cts: fixed.cts ?? false, dsr: fixed.dsr ?? false, dcd: fixed.dcd ?? false }
        : { cts: fixed.cts ?? want.rts, dsr: fixed.dsr ?? want.dtr, dcd: fixed.dcd ?? want.dtr };
    if (lines.cts !== expect.cts || lines.dsr !== expect.dsr || lines.dcd !== expect.dcd) {
      v.findings.push({
        invariant: 'modem-lines',
        message: `${s.receiver} reads cts=${+lines.cts} dsr=${+lines.dsr} dcd=${+lines.dcd} while ${s.from} set rts=${+want.rts} dtr=${+want.dtr} (link ${s.link}${s.reported === false ? '; its device reports no input lines' : ''})`,
        key: `modem|${s.link}|${+want.rts}${+want.dtr}|${+lines.cts}${+lines.dsr}${+lines.dcd}`,
      });
    }
  }
  return v;
}
