// The kernel's own record of the control transfers on a bus (usbmon's text interface,
// Documentation/usb/usbmon.rst): what the host side really sent and how each ended, to check a
// gadget bridge against (nothing lost, nothing timed out, the order kept). Read by a `cat` child
// process into a file, so no thread-pool thread of the job is held by it.
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, realpathSync } from 'node:fs';

export interface MonControl {
  bmRequestType: number;
  bRequest: number;
  wValue: number;
  wIndex: number;
  wLength: number;
  device: number;
  /** The completion status (0, -32 stall, -2/-104 killed: the caller gave up), undefined if none seen. */
  status?: number;
  /** Submission → completion, µs (usbmon's timestamps). */
  us?: number;
  /** Bytes transferred and their first words (usbmon shows at most 32 bytes). */
  length?: number;
  data?: string;
}

/** The bus number of the dummy_hcd root hub. */
export function dummyBusNumber(): number {
  for (const d of readdirSync('/sys/bus/usb/devices')) {
    const m = /^usb(\d+)$/.exec(d);
    if (m && realpathSync(`/sys/bus/usb/devices/${d}`).includes('dummy_hcd')) return Number(m[1]);
  }
  throw new Error('no dummy_hcd bus in /sys/bus/usb/devices');
}

export class UsbmonRecorder {
  private child: ChildProcess | undefined;
  readonly file: string;

  constructor(readonly bus: number) {
    this.file = `/tmp/usbmon-${bus}-${process.pid}.txt`;
  }

  start(): void {
    execSync('modprobe usbmon');
    if (!existsSync('/sys/kernel/debug/usb')) execSync('mount -t debugfs none /sys/kernel/debug');
    const out = openSync(this.file, 'w');
    this.child = spawn('cat', [`/sys/kernel/debug/usb/usbmon/${this.bus}u`], { stdio: ['ignore', out, 'ignore'] });
    closeSync(out);
  }

  /** The control transfers on endpoint 0 of devices other than the root hub, in submission order. */
  async stop(): Promise<{ controls: MonControl[]; lines: number }> {
    await new Promise((r) => setTimeout(r, 100)); // let cat take the last events
    this.child?.kill('SIGTERM');
    const text = existsSync(this.file) ? readFileSync(this.file, 'utf8') : '';
    const pending = new Map<string, { c: MonControl; t: number }>();
    const controls: MonControl[] = [];
    const lines = text.split('\n');
    for (const line of lines) {
      const w = line.trim().split(/\s+/);
      if (w.length < 5) continue;
      const [tag, ts, ev, addr] = w as [string, string, string, string];
      const a = /^C([io]):(\d+):(\d+):(\d+)$/.exec(addr);
      if (!a || a[4] !== '0' || a[3] === '001') continue;
      if (ev === 'S' && w[4] === 's') {
        const c: MonControl = {
          bmRequestType: parseInt(w[5]!, 16),
          bRequest: parseInt(w[6]!, 16),
          wValue: parseInt(w[7]!, 16),
          wIndex: parseInt(w[8]!, 16),
          wLength: parseInt(w[9]!, 16),
          device: Number(a[3]),
        };
        // OUT data, when shown, follows '=' on the submission line.
        const eq = w.indexOf('=');
        if (eq > 0) c.data = w.slice(eq + 1).join('');
        controls.push(c);
        pending.set(tag, { c, t: Number(ts) });
      } else if (ev === 'C' && pending.has(tag)) {
        const { c, t } = pending.get(tag)!;
        pending.delete(tag);
        c.status = Number(w[4]);
        c.length = Number(w[5]);
        let us = Number(ts) - t;
        if (us < 0) us += 4096 * 1_000_000; // usbmon's stamps wrap every 4096 s
        c.us = us;
        const eq = w.indexOf('=');
        if (eq > 0 && (c.bmRequestType & 0x80)) c.data = w.slice(eq + 1).join('');
      }
    }
    return { controls, lines: lines.length };
  }
}

/** usbmon's control transfers as lines like the bridge's: `c0/01 v8484 i0000 l1 → 0 (412 µs)`. */
export function formatMon(c: MonControl): string {
  const h = (n: number, w = 2) => n.toString(16).padStart(w, '0');
  return `${h(c.bmRequestType)}/${h(c.bRequest)} v${h(c.wValue, 4)} i${h(c.wIndex, 4)} l${c.wLength}${c.data ? ` [${c.data}]` : ''} → ${c.status ?? '?'} (${c.us ?? '?'} µs)`;
}
