// Checks shared by the specs that present our emulations to the guest kernel through the
// FunctionFS bridge (guest/functionfs-bridge.ts): the bridge's log against the kernel's own
// record of the bus (usbmon), and the request lines both write.
import { expect } from 'chai';
import type { BridgeSetup } from './guest/emulation-side.ts';
import type { MonControl } from './guest/usbmon.ts';

export interface BridgedDeviceRecord {
  bridge?: { errors: string[]; events?: string[]; setups: BridgeSetup[]; deviations: string[]; endpointFiles: string[] };
  usbmon?: { controls: MonControl[]; lines: number };
  latency?: { count: number; p50: number; p90: number; max: number };
}

const h = (n: number, w = 2) => n.toString(16).padStart(w, '0');

/** A request as `c0/ff v370b i0000 l1` (the form formatSetup's lines start with). */
export const requestKey = (s: { bmRequestType: number; bRequest: number; wValue: number; wIndex: number; wLength: number }) =>
  `${h(s.bmRequestType)}/${h(s.bRequest)} v${h(s.wValue, 4)} i${h(s.wIndex, 4)} l${s.wLength}`;

const pct = (xs: number[], q: number) => {
  const d = [...xs].sort((a, b) => a - b);
  return d.length ? d[Math.min(d.length - 1, Math.floor(q * d.length))]! : 0;
};

/**
 * One bridged device: the bridge logged no error, and usbmon agrees with it: no control request
 * timed out or was cut short, the only stalls are composite's GET_DESCRIPTOR(DEVICE_QUALIFIER) (a
 * full-speed device) and `expectedStalls` (requestKey form), and the vendor/class requests the
 * kernel and libusb sent are exactly those the emulation answered, in order, with the same OUT
 * data. Returns a line with the counts and latencies.
 */
export function checkBridgedDevice(label: string, r: BridgedDeviceRecord, expectedStalls: string[] = []): string {
  expect(r.bridge?.errors, `${label}: bridge errors`).to.deep.equal([]);
  const controls = r.usbmon?.controls ?? [];
  expect(controls.length, `${label}: usbmon saw the control requests`).to.be.above(10);
  const unfinished = controls.filter((c) => c.status === undefined).map(requestKey);
  expect(unfinished, `${label}: control requests without a completion`).to.deep.equal([]);
  const stallOk = (c: MonControl) => (c.bmRequestType === 0x80 && c.bRequest === 6 && c.wValue === 0x0600) || expectedStalls.includes(requestKey(c));
  const failed = controls.filter((c) => c.status !== 0 && !(c.status === -32 && stallOk(c)));
  expect(failed.map((c) => `${requestKey(c)} → ${c.status}`), `${label}: control requests that failed or were given up (-2/-104: timed out)`).to.deep.equal([]);
  const delegated = controls.filter((c) => (c.bmRequestType & 0x60) !== 0);
  const setups = r.bridge!.setups;
  expect(setups.map(requestKey), `${label}: the vendor/class requests the emulation answered = those sent on the bus, in order`).to.deep.equal(delegated.map(requestKey));
  delegated.forEach((c, i) => {
    if (!(c.bmRequestType & 0x80) && c.wLength > 0) expect(setups[i]!.data, `${label}: OUT data of ${requestKey(c)}`).to.equal(c.data);
  });
  const kernelMs = delegated.map((c) => (c.us ?? 0) / 1000);
  const b = r.latency ?? { p50: 0, p90: 0, max: 0 };
  return `${delegated.length} vendor/class requests, 0 lost; usbmon submit → complete p50 ${pct(kernelMs, 0.5).toFixed(1)} ms, max ${Math.max(0, ...kernelMs).toFixed(1)} ms; bridge p50 ${b.p50} ms, max ${b.max} ms; deviations: ${r.bridge!.deviations.join('; ') || 'none'}`;
}

/** The last logged request (formatSetup lines) that starts with `prefix`, parsed: wValue, wIndex, OUT data. */
export function lastRequest(lines: readonly string[], prefix: string): { wValue: number; wIndex: number; data?: string; reply: string } | undefined {
  const line = [...lines].reverse().find((l) => l.startsWith(prefix));
  if (!line) return undefined;
  const m = /^[0-9a-f]{2}\/[0-9a-f]{2} v([0-9a-f]{4}) i([0-9a-f]{4}) l\d+(?: \[([0-9a-f]+)\])?: (.*)$/.exec(line);
  if (!m) throw new Error(`not a request line: ${line}`);
  return { wValue: parseInt(m[1]!, 16), wIndex: parseInt(m[2]!, 16), data: m[3], reply: m[4]! };
}

/**
 * What shows that the kernel gave up on a control request before the bridge answered: usbmon's
 * -2/-104 for it (the URB killed at its timeout: ch341 gives 1000 ms, cdc_acm and cp210x 5000 ms).
 * Under TCG on a loaded machine a bridge answer can take that long: the rig's speed, not a result
 * about the emulation. Undefined when no request was given up.
 */
export function kernelGaveUp(records: readonly Pick<BridgedDeviceRecord, 'usbmon'>[]): string | undefined {
  const lines = records.flatMap((r) => (r.usbmon?.controls ?? []).filter((c) => c.status === -2 || c.status === -104).map((c) => `${requestKey(c)} → ${c.status} after ${((c.us ?? 0) / 1000).toFixed(0)} ms`));
  return lines.length ? lines.join('; ') : undefined;
}

/**
 * Runs a bridged guest job; runs it once more (and says so) when the only trouble was the kernel
 * giving up on a control request in time (kernelGaveUp). The second run is judged as it is.
 */
export async function runBridged<T>(label: string, run: () => Promise<T>, records: (run: T) => readonly Pick<BridgedDeviceRecord, 'usbmon'>[]): Promise<T> {
  const first = await run();
  const why = kernelGaveUp(records(first));
  if (!why) return first;
  console.log(`      [vm] ${label}: the kernel gave up on a control request (${why}): TCG timing; one more run`);
  return run();
}
