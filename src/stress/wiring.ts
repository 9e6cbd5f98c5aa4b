// Finding out how a real lab is wired: every port sends a token in turn and every port listens;
// a token that comes back on its own port means a loopback plug, one that shows up on another
// port means a cable between the two.
import type { Subscription } from 'rxjs';
import type { UsbSerialPort } from '../serial/index.ts';
import type { TopologyLink } from './schedule.ts';

export interface WiringOptions {
  baudRate?: number;
  /** How long each token may take to arrive (ms, default 750). */
  timeoutMs?: number;
}

export async function discoverWiring(ports: readonly { slot: string; port: UsbSerialPort }[], o: WiringOptions = {}): Promise<TopologyLink[]> {
  const received = new Map<string, number[]>();
  const subs: Subscription[] = [];
  const opened: { slot: string; port: UsbSerialPort }[] = [];
  for (const p of ports) {
    try {
      await p.port.open({ baudRate: o.baudRate ?? 115200 });
      received.set(p.slot, []);
      subs.push(p.port.events.subscribe((e) => e.type === 'data' && received.get(p.slot)!.push(...e.data)));
      opened.push(p);
    } catch {
      // A port that cannot be opened is simply not part of any wire.
    }
  }
  const links: TopologyLink[] = [];
  try {
    for (let i = 0; i < opened.length; i++) {
      const from = opened[i]!;
      for (const buf of received.values()) buf.length = 0;
      const token = Array.from(new TextEncoder().encode(`\u0002wire?${i}:${from.slot}\u0003`));
      await from.port.write(Uint8Array.from(token)).catch(() => undefined);
      const deadline = performance.now() + (o.timeoutMs ?? 750);
      const hits = () => opened.filter((p) => contains(received.get(p.slot)!, token));
      while (performance.now() < deadline && hits().length === 0) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 20));
      for (const to of hits()) {
        links.push({ id: `${from.slot}>${to.slot}`, from: from.slot, to: to.slot, kind: to.slot === from.slot ? 'loopback' : 'null-modem' });
      }
    }
  } finally {
    for (const s of subs) s.unsubscribe();
    for (const p of opened) await p.port.close().catch(() => undefined);
  }
  return links;
}

function contains(hay: readonly number[], needle: readonly number[]): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}
