// Reports of a stress run: a summary table for the terminal, the JSON report for tools, and a
// self-contained HTML page with an SVG timeline (who was plugged, registered, open when; every
// event as a tick; violations as red lines, with their history below) that opens in a browser.
import { involvedDongles } from './capture.ts';
import { INVARIANTS } from './monitor.ts';
import type { LaneChange, StressResult } from './options.ts';
import { describeStep, STEP_KINDS, type Step } from './schedule.ts';

const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string | number, n: number) => String(s).padStart(n);

function kib(n: number): string {
  return n >= 10240 ? `${(n / 1024).toFixed(0)} KiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** The terminal summary: what ran, what every invariant saw, the traffic, the verdict, the replay line. */
export function summaryLines(r: StressResult, extra: { reportDir?: string; scheduleFile?: string; captures?: readonly CaptureFile[] } = {}): string[] {
  const lines: string[] = [];
  const where = r.target === 'mock' ? `mock lab${r.hotplug === 'power' ? ', hotplug by hub port power' : ''}` : 'real hubs';
  lines.push(
    `stress ${r.replay.seed} on the ${where}: ${r.events} events, ${r.cycles} plug/unplug cycles in ${(r.wallMs / 1000).toFixed(1)} s (${r.eventsPerSecond} events/s, ${(r.logicalMs / 1000).toFixed(1)} s of ${r.target === 'mock' ? 'logical' : 'wall'} time)`,
  );
  const methods = Object.entries(r.powerMethods ?? {}).filter(([, n]) => n);
  if (methods.length) lines.push(`port power switched by ${methods.map(([m, n]) => `${m} x${n}`).join(', ')}`);
  lines.push('');
  lines.push(`${pad('event', 12)}${lpad('issued', 8)}${lpad('ok', 8)}${lpad('skipped', 9)}${lpad('failed', 8)}  outcomes`);
  for (const k of STEP_KINDS) {
    const c = r.counts[k];
    if (c.issued === 0) continue;
    const notes = [
      ...Object.entries(c.errors).map(([e, n]) => `${e} x${n}`),
      ...Object.entries(c.skips)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([e, n]) => `skip ${e} x${n}`),
    ].join(', ');
    lines.push(`${pad(k, 12)}${lpad(c.issued, 8)}${lpad(c.ok, 8)}${lpad(c.skipped, 9)}${lpad(c.failed, 8)}  ${notes}`);
  }
  lines.push('');
  lines.push(`${pad('invariant', 30)}${lpad('checks', 10)}${lpad('violations', 12)}`);
  const byInv = new Map<string, number>();
  for (const v of r.violations) byInv.set(v.invariant, (byInv.get(v.invariant) ?? 0) + 1 + v.repeats);
  for (const inv of INVARIANTS) {
    const n = byInv.get(inv) ?? 0;
    lines.push(`${pad(inv, 30)}${lpad(r.checks[inv], 10)}${lpad(n === 0 ? '-' : n, 12)}${n ? '  <-- FAIL' : ''}`);
  }
  lines.push('');
  const t = r.traffic;
  lines.push(
    `traffic: ${kib(t.bytesHanded)} in ${t.frames} frames (${t.writes} writes) over ${t.epochs} epochs; ${kib(t.bytesReceived)} received in order; ` +
      `lost at unplug/unbind/deregistration: ${r.lossSummary.bytes} B in ${r.lossSummary.epochs} epoch(s)${Object.keys(r.lossSummary.byReason).length ? ` (${Object.entries(r.lossSummary.byReason).map(([k, v]) => `${k} ${v} B`).join(', ')})` : ''}`,
  );
  lines.push(`udev-like rule: ${r.udevWrites} new_id writes; driver calls: ${Object.entries(r.driverCalls).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  if (r.stoppedEarly) lines.push(`stopped early: ${r.stoppedEarly}`);
  lines.push('');
  if (r.ok) {
    lines.push(`PASS: no invariant broken (trace ${r.traceHash})`);
  } else {
    lines.push(`FAIL: ${r.violations.length} violation(s)${r.suppressedViolations ? ` (+${r.suppressedViolations} not listed)` : ''}`);
    for (const v of r.violations.slice(0, 10)) lines.push(`  [${v.invariant}] event #${v.event} (seed ${r.replay.seed}): ${v.message}`);
    const first = r.violations[0];
    if (first) {
      lines.push('  what led to the first one:');
      for (const h of first.history.slice(-12)) lines.push(`    ${h}`);
    }
    lines.push('');
    lines.push(`replay: ${r.replay.command}`);
    if (r.shrunk) {
      lines.push(`shrunk to ${r.shrunk.steps.length} of ${r.shrunk.from} events in ${r.shrunk.runs} runs (${(r.shrunk.ms / 1000).toFixed(1)} s), still breaking ${r.shrunk.invariant}:`);
      for (const s of r.shrunk.steps) lines.push(`    ${describeStep(s)}`);
      if (extra.scheduleFile) lines.push(`replay the minimal schedule: ${r.replay.command.replace(/ --seed .*$/, '')} --schedule ${extra.scheduleFile}`);
    }
  }
  if (extra.reportDir) lines.push(`report: ${extra.reportDir}/report.json, timeline: ${extra.reportDir}/timeline.html`);
  for (const c of extra.captures ?? []) {
    lines.push(`capture of ${c.dongle} (violation${c.violations.length > 1 ? 's' : ''} ${c.violations.map((i) => i + 1).join(', ')}): ${c.file}, ${c.events} events${c.dropped ? ` (${c.dropped} older ones dropped)` : ''}`);
  }
  if (r.capture?.file) lines.push(`capture of the whole run: ${r.capture.file}`);
  return lines;
}

/** The machine-readable report (the result as JSON, with the schedule of a shrunk failure). */
export function jsonReport(r: StressResult, extra: Record<string, unknown> = {}): string {
  const { capture, ...rest } = r;
  return JSON.stringify({ kind: 'usb-harness-stress-report', version: 1, ...rest, ...(capture ? { capture: capture.toJSON() } : {}), ...extra }, null, 2);
}

/** The minimal schedule file `--schedule` replays. */
export function scheduleFile(seed: string, steps: readonly Step[], why: string): string {
  return JSON.stringify({ kind: 'usb-harness-stress-schedule', version: 1, seed, why, steps }, null, 2);
}

// ---- HTML ----------------------------------------------------------------------------------

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const KIND_COLOR: Record<string, string> = {
  plug: '#2e7d32',
  unplug: '#c62828',
  register: '#1565c0',
  deregister: '#6a1b9a',
  new_id: '#00838f',
  remove_id: '#4e342e',
  bind: '#558b2f',
  unbind: '#ef6c00',
  open: '#0277bd',
  close: '#37474f',
  write: '#9e9d24',
  signals: '#ad1457',
  check: '#000000',
};

const STATE_COLOR: Record<string, string> = {
  plugged: '#a5d6a7',
  unplugged: '#eeeeee',
  registered: '#90caf9',
  registering: '#ffe082',
  deregistering: '#ffcc80',
  deregistered: '#eeeeee',
  failed: '#ef9a9a',
  open: '#80deea',
  closed: '#eeeeee',
  gone: '#f3e5f5',
};

/** A page a person opens: lanes of state over logical time, event ticks, violations in red. */
export function htmlTimeline(r: StressResult): string {
  const end = Math.max(1, r.logicalMs);
  const laneNames = Object.keys(r.lanes).sort((a, b) => laneOrder(a) - laneOrder(b) || a.localeCompare(b));
  const kinds = STEP_KINDS.filter((k) => r.counts[k].issued > 0);
  const width = Math.max(1200, Math.min(40_000, Math.round(r.timeline.length * 3)));
  const left = 170;
  const laneH = 16;
  const top = 24;
  const lanesH = laneNames.length * laneH;
  const ticksTop = top + lanesH + 10;
  const height = ticksTop + kinds.length * laneH + 30;
  const x = (t: number) => left + (Math.max(0, Math.min(end, t)) / end) * (width - left - 10);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`);
  // time axis
  const step = niceStep(end / 12);
  for (let t = 0; t <= end; t += step) {
    parts.push(`<line x1="${x(t).toFixed(1)}" y1="${top - 4}" x2="${x(t).toFixed(1)}" y2="${height - 20}" stroke="#ddd"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${top - 8}" text-anchor="middle" fill="#555">${fmtMs(t)}</text>`);
  }
  laneNames.forEach((name, i) => {
    const y = top + i * laneH;
    parts.push(`<text x="4" y="${y + 12}" fill="#222">${esc(name)}</text>`);
    const changes: LaneChange[] = r.lanes[name] ?? [];
    changes.forEach((c, k) => {
      const t1 = changes[k + 1]?.t ?? end;
      const w = Math.max(0.5, x(t1) - x(c.t));
      parts.push(
        `<rect x="${x(c.t).toFixed(1)}" y="${y + 2}" width="${w.toFixed(1)}" height="${laneH - 4}" fill="${STATE_COLOR[c.state] ?? '#ccc'}"><title>${esc(`${name}: ${c.state} from ${fmtMs(c.t)} (event #${c.n}) to ${fmtMs(t1)}`)}</title></rect>`,
      );
    });
  });
  kinds.forEach((k, i) => {
    const y = ticksTop + i * laneH;
    parts.push(`<text x="4" y="${y + 12}" fill="${KIND_COLOR[k]}">${k}</text>`);
  });
  for (const e of r.timeline) {
    const i = kinds.indexOf(e.kind as (typeof kinds)[number]);
    if (i < 0) continue;
    const y = ticksTop + i * laneH;
    const failed = e.outcome.startsWith('error');
    const skipped = e.outcome.startsWith('skip');
    parts.push(
      `<line x1="${x(e.t).toFixed(1)}" y1="${y + 2}" x2="${x(e.t).toFixed(1)}" y2="${y + laneH - 2}" stroke="${failed ? '#d50000' : KIND_COLOR[e.kind] ?? '#333'}" stroke-width="${failed ? 2 : 1}" opacity="${skipped ? 0.25 : 0.9}"><title>${esc(`#${e.n} ${e.kind} ${e.target} -> ${e.outcome} at ${fmtMs(e.t)}`)}</title></line>`,
    );
  }
  r.violations.forEach((v, i) => {
    const vx = x(v.t).toFixed(1);
    parts.push(`<line x1="${vx}" y1="${top - 4}" x2="${vx}" y2="${height - 20}" stroke="#d50000" stroke-width="2"><title>${esc(`[${v.invariant}] event #${v.event}: ${v.message}`)}</title></line>`);
    parts.push(`<a href="#v${i}"><text x="${vx}" y="${height - 6}" fill="#d50000" text-anchor="middle">&#9650;${i + 1}</text></a>`);
  });
  parts.push('</svg>');

  const counts = STEP_KINDS.filter((k) => r.counts[k].issued > 0)
    .map((k) => {
      const c = r.counts[k];
      return `<tr><td style="color:${KIND_COLOR[k]}">${k}</td><td>${c.issued}</td><td>${c.ok}</td><td>${c.skipped}</td><td>${c.failed}</td><td>${esc(Object.entries(c.errors).map(([e, n]) => `${e} x${n}`).join(', '))}</td></tr>`;
    })
    .join('\n');
  const checks = INVARIANTS.map((inv) => {
    const n = r.violations.filter((v) => v.invariant === inv).length;
    return `<tr class="${n ? 'bad' : ''}"><td>${inv}</td><td>${r.checks[inv]}</td><td>${n || '-'}</td></tr>`;
  }).join('\n');
  const violations = r.violations
    .map(
      (v, i) => `<div class="violation" id="v${i}"><h3>${i + 1}. [${esc(v.invariant)}] at event #${v.event} (${fmtMs(v.t)}), seed ${esc(r.replay.seed)}${v.repeats ? `, seen ${v.repeats} more time(s)` : ''}</h3>
<p>${esc(v.message)}</p>
<details><summary>the ${v.history.length} events before it</summary><pre>${esc(v.history.join('\n'))}</pre></details>
${v.details ? `<details><summary>details</summary><pre>${esc(JSON.stringify(v.details, null, 2))}</pre></details>` : ''}</div>`,
    )
    .join('\n');
  const shrunk = r.shrunk
    ? `<h2>Minimal failing schedule</h2><p>${r.shrunk.steps.length} of ${r.shrunk.from} events still break <b>${esc(r.shrunk.invariant)}</b> (${r.shrunk.runs} runs, ${(r.shrunk.ms / 1000).toFixed(1)} s):</p><pre>${esc(r.shrunk.steps.map(describeStep).join('\n'))}</pre><p>${esc(r.shrunk.violation.message)}</p>`
    : '';
  const losses = r.losses.length
    ? `<h2>Allowed losses (at unplug, unbind or deregistration)</h2><table><tr><th>link</th><th>epoch</th><th>reason</th><th>event</th><th>written</th><th>reported sent</th><th>received</th><th>lost</th></tr>${r.losses
        .slice(0, 200)
        .map((l) => `<tr><td>${esc(l.link)}</td><td>${l.epoch}</td><td>${l.reason}</td><td>#${l.event}</td><td>${l.handed}</td><td>${l.reported}</td><td>${l.received}</td><td>${l.lost}</td></tr>`)
        .join('')}</table>`
    : '';
  const legend = Object.entries(STATE_COLOR)
    .map(([s, c]) => `<span class="sw" style="background:${c}"></span>${s}`)
    .join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stress ${esc(r.replay.seed)}: ${r.ok ? 'PASS' : 'FAIL'}</title>
<style>
body{font-family:system-ui,sans-serif;margin:16px;color:#222}
.verdict{font-size:20px;font-weight:bold;color:${r.ok ? '#2e7d32' : '#c62828'}}
.scroll{overflow-x:auto;border:1px solid #ccc;padding:4px;background:#fff}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right;font-family:monospace}td:first-child{text-align:left}
tr.bad td{background:#ffebee}
.violation{border-left:4px solid #c62828;padding:0 12px;margin:12px 0}
pre{background:#f5f5f5;padding:8px;overflow-x:auto}
code{background:#f5f5f5;padding:2px 4px}
.sw{display:inline-block;width:12px;height:10px;margin:0 3px 0 10px;border:1px solid #999}
</style></head><body>
<div class="verdict">${r.ok ? 'PASS' : `FAIL: ${r.violations.length} violation(s)`}</div>
<p>seed <code>${esc(r.replay.seed)}</code> on the ${r.target === 'mock' ? 'mock lab' : 'real hubs'}: ${r.events} events, ${r.cycles} plug/unplug cycles, ${(r.wallMs / 1000).toFixed(1)} s (${r.eventsPerSecond} events/s), ${fmtMs(r.logicalMs)} of ${r.target === 'mock' ? 'logical' : 'wall'} time; trace <code>${esc(r.traceHash)}</code></p>
<p>replay: <code>${esc(r.replay.command)}</code></p>
<p>lanes: ${legend}. Ticks: one per event (faint: skipped, red: failed); hover for details. Red lines: violations.</p>
<div class="scroll">${parts.join('\n')}</div>
${r.timelineDropped ? `<p>(${r.timelineDropped} later events not drawn)</p>` : ''}
<h2>Violations</h2>${violations || '<p>none</p>'}
${shrunk}
<h2>Events</h2><table><tr><th>event</th><th>issued</th><th>ok</th><th>skipped</th><th>failed</th><th>errors</th></tr>${counts}</table>
<h2>Invariants</h2><table><tr><th>invariant</th><th>checks</th><th>violations</th></tr>${checks}</table>
<h2>Traffic</h2><p>${kib(r.traffic.bytesHanded)} written in ${r.traffic.frames} frames over ${r.traffic.epochs} epochs, ${kib(r.traffic.bytesReceived)} received in order; ${r.lossSummary.bytes} B lost at unplug, unbind or deregistration.</p>
${losses}
</body></html>
`;
}

function laneOrder(name: string): number {
  return name.startsWith('dongle') ? 0 : name.startsWith('driver') ? 1 : 2;
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function fmtMs(t: number): string {
  return t >= 10_000 ? `${(t / 1000).toFixed(0)} s` : t >= 1000 ? `${(t / 1000).toFixed(1)} s` : `${Math.round(t)} ms`;
}

/** A report's capture of one dongle a violation involved. */
export interface CaptureFile {
  dongle: string;
  file: string;
  events: number;
  dropped: number;
  /** Which violations (indices into `violations`) involve the dongle. */
  violations: number[];
}

/** The dongles a failing run's violations involve, each with the violations naming it. */
export function involvedCaptures(r: StressResult): Map<string, number[]> {
  const by = new Map<string, number[]>();
  r.violations.forEach((v, i) => {
    for (const d of involvedDongles(v, r.topology)) by.set(d, [...(by.get(d) ?? []), i]);
  });
  return by;
}

/**
 * Writes report.json, timeline.html, for a shrunk failure minimal-schedule.json, and for a
 * failure with a capture one capture-<dongle>.pcapng per dongle its violations involve (the
 * dongle's transfers kept in the run's bounded ring: usbmon link type, for Wireshark/tshark).
 */
export async function writeReports(dir: string, r: StressResult): Promise<{ json: string; html: string; schedule?: string; captures?: CaptureFile[] }> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  await fs.mkdir(dir, { recursive: true });
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'timeline.html');
  const captures: CaptureFile[] = [];
  if (!r.ok && r.capture) {
    const kept = new Set(r.capture.dongles());
    for (const [dongle, violations] of involvedCaptures(r)) {
      if (!kept.has(dongle)) continue;
      const file = path.join(dir, `capture-${dongle.replace(/[^\w.-]+/g, '_')}.pcapng`);
      await fs.writeFile(file, r.capture.pcapng(dongle));
      captures.push({ dongle, file, ...r.capture.stats(dongle), violations });
    }
  }
  await fs.writeFile(json, jsonReport(r, captures.length ? { captures } : {}));
  await fs.writeFile(html, htmlTimeline(r));
  const extra = captures.length ? { captures } : {};
  if (r.shrunk) {
    const schedule = path.join(dir, 'minimal-schedule.json');
    await fs.writeFile(schedule, scheduleFile(r.replay.seed, r.shrunk.steps, `[${r.shrunk.invariant}] ${r.shrunk.violation.message}`));
    return { json, html, schedule, ...extra };
  }
  return { json, html, ...extra };
}
