// `usb-harness replay FILE`: a capture (pcapng/pcap in usbmon link type, or usbmon text) played
// back as an emulated device to our drivers. Each port of it is opened with the line settings
// given, written what the recorded host wrote on that interface, and closed; then the diff of
// what our driver sent against what the recorded host sent is printed, request by request.
// Exit 1 when anything the host wrote differs. The replay device comes from the mock lab
// composition root (app/usb-harness.ts hands it in), as src/cli never imports mocks/ itself.
import { readFileSync } from 'node:fs';
import { readUsbmonEvents, type UsbmonEvent } from '../../capture/index.ts';
import type { HostBackend, SerialSettings } from '../../index.ts';
import { openContext, type CliLab } from '../context.ts';
import type { UsbSerialDriverSet } from '../../serial/driver-set.ts';
import { CliError, EXIT } from '../errors.ts';
import type { Output } from '../output.ts';

/** The replayed device, as the mock lab composition builds it (mocks/replay ReplayLab). */
export interface CliReplayLab extends CliLab {
  /** "device 1:2 (0403:6001 bcdDevice 0600)". */
  readonly description: string;
  recordedWrites(interfaceNumber: number): Uint8Array[];
  diff(): { recorded: number; sent: number; differences: number; entries: readonly unknown[] };
  diffLines(): string[];
  readonly behaviour: { readonly unrecorded: readonly { setup: { bmRequestType: number; bRequest: number; wValue: number; wIndex: number }; answeredBy: string }[] };
}

export interface ReplayDeps {
  driverSets(): UsbSerialDriverSet[];
  createReplay(events: readonly UsbmonEvent[], options: { device?: string; fallback: 'stall' | 'chip'; compareStandard: boolean }): CliReplayLab;
  /** Wraps the backend (the --capture recorder), if any. */
  wrapBackend?: (backend: HostBackend) => HostBackend;
}

export interface ReplayOptions {
  device?: string;
  fallback: 'stall' | 'chip';
  compareStandard: boolean;
  settings: Partial<SerialSettings>;
  /** How long to wait for the echo of what was written (ms). */
  settle: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function replayCommand(out: Output, file: string, o: ReplayOptions, deps: ReplayDeps): Promise<number> {
  let events: UsbmonEvent[];
  try {
    events = readUsbmonEvents(new Uint8Array(readFileSync(file)));
  } catch (err) {
    throw new CliError(`cannot read capture '${file}': ${(err as Error).message}`, EXIT.usage);
  }
  let lab: CliReplayLab;
  try {
    lab = deps.createReplay(events, { ...(o.device !== undefined ? { device: o.device } : {}), fallback: o.fallback, compareStandard: o.compareStandard });
  } catch (err) {
    throw new CliError(`cannot replay '${file}': ${(err as Error).message}`, EXIT.usage);
  }
  const notes: string[] = [];
  const ctx = await openContext(
    { mockLab: true, backend: 'auto' },
    { driverSets: deps.driverSets, createLab: () => lab, ...(deps.wrapBackend ? { wrapBackend: deps.wrapBackend } : {}) },
  );
  try {
    const ports = ctx.ports();
    if (!ports.length) notes.push('no driver bound the replayed device');
    for (const port of ports) {
      try {
        await port.open(o.settings);
      } catch (err) {
        notes.push(`${port.name}: open failed: ${(err as Error).message}`);
        continue;
      }
      let got = 0;
      const sub = port.events.subscribe((e) => {
        if (e.type === 'data') got += e.data.length;
      });
      try {
        const writes = lab.recordedWrites(port.serial.intf.interfaceNumber);
        const total = writes.reduce((n, w) => n + w.length, 0);
        for (const w of writes) await port.write(w);
        const end = Date.now() + o.settle;
        while (got < total && Date.now() < end) await sleep(5);
      } catch (err) {
        notes.push(`${port.name}: ${(err as Error).message}`);
      } finally {
        sub.unsubscribe();
        await port.close().catch((err: Error) => notes.push(`${port.name}: close failed: ${err.message}`));
      }
    }
    lab.unplug('replay');
    await lab.flush();
    await ctx.usb.settled();
  } finally {
    await ctx.close();
  }
  const diff = lab.diff();
  const unrecorded = lab.behaviour.unrecorded;
  if (out.json) {
    out.data({ file, device: lab.description, recorded: diff.recorded, sent: diff.sent, differences: diff.differences, diff: lab.diffLines(), unrecorded, notes });
  } else {
    out.line(`replay of ${file}, ${lab.description}: ${diff.recorded} recorded, ${diff.sent} sent, ${diff.differences} differ`);
    for (const l of lab.diffLines()) out.line(l);
    for (const u of unrecorded) {
      const s = u.setup;
      out.line(`! not in the capture (${u.answeredBy}): bmRequestType 0x${s.bmRequestType.toString(16)} bRequest 0x${s.bRequest.toString(16)} wValue 0x${s.wValue.toString(16)} wIndex 0x${s.wIndex.toString(16)}`);
    }
    for (const n of notes) out.line(`! ${n}`);
  }
  return diff.differences > 0 ? EXIT.failed : EXIT.ok;
}
