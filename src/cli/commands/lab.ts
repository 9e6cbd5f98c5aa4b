// `usb-harness lab list|attach|detach --lab FILE [DONGLE|HOST...]`: a lab of many hosts over
// USB/IP, driven through Linux's usbip tool on this (the importing) host. `attach` shows which
// remote dongle became which local port: vhci port -> local bus ID -> our ttyUSB name and its
// stable path (serial:SN:ifN, which names the same port in any later usb-harness run).
// `attach --watch` stays and keeps the dongles imported (heartbeat, re-attach) until Ctrl-C.
// The harness never listens: the exporters run usbipd (see README "Labs of many hosts").
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { importedOnly, Lab, LabError, LabFileError, LabSupervisor, parseLabFile, UsbipCommandError, vhciBusNumbers, type Attachment, type SupervisorEvent } from '../../lab/index.ts';
import type { UsbSerialPort } from '../../serial/index.ts';
import { openContext, type ContextDeps } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { hex4, output, table, type Output } from '../output.ts';

export interface LabRow extends Attachment {
  ports: { name: string; path: string }[];
}

/** Where our stack put each import: ports by local bus ID (the device name our bus gives it). */
export type PortFinder = (attachments: readonly Attachment[]) => Promise<Map<string, { name: string; path: string }[]>>;

export interface LabCommandOptions {
  lab: string;
  watch?: boolean;
  /** --watch: stop after this many ms (default: until Ctrl-C). */
  duration?: number;
}

async function loadLab(file: string, deps: { lab?: (text: string, file: string) => Lab } = {}): Promise<Lab> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the lab file ${file}: ${(err as Error).message}`, EXIT.usage);
  }
  try {
    return deps.lab ? deps.lab(text, file) : new Lab(parseLabFile(text, file));
  } catch (err) {
    if (err instanceof LabFileError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

function rowsOf(attached: readonly Attachment[], ports: Map<string, { name: string; path: string }[]>): LabRow[] {
  return attached.map((a) => ({ ...a, ports: (a.localBusid && ports.get(a.localBusid)) || [] }));
}

function printRows(out: Output, rows: readonly LabRow[], failed: readonly { dongle: string; error: string }[]): void {
  if (out.json) {
    out.data({ attached: rows, failed });
    return;
  }
  const lines: string[][] = [['dongle', 'remote', 'vhci port', 'local', 'ports']];
  for (const r of rows) {
    const ids = r.vendorId !== null && r.productId !== null ? ` ${hex4(r.vendorId)}:${hex4(r.productId)}` : '';
    lines.push([r.dongle, `${r.address}/${r.remoteBusid}${ids}`, String(r.vhciPort), r.localBusid ?? '(enumerating)', r.ports.map((p) => `${p.name} ${p.path}`).join(', ') || '-']);
  }
  if (rows.length === 0) out.line('no lab dongle is attached here');
  else for (const l of table(lines)) out.line(l.trimEnd());
  for (const f of failed) out.line(`${f.dongle}: not attached: ${f.error}`);
}

export async function labCommand(
  op: string,
  names: readonly string[],
  o: LabCommandOptions,
  deps: { out: Output; findPorts?: PortFinder; lab?: (text: string, file: string) => Lab },
): Promise<number> {
  const { out } = deps;
  const lab = await loadLab(o.lab, deps);
  const findPorts = deps.findPorts ?? (async () => new Map());
  try {
    switch (op) {
      case 'list': {
        const hosts = await lab.list();
        const attached = await lab.attachments().catch(() => [] as Attachment[]);
        if (out.json) {
          out.data({ hosts, attached });
          return hosts.every((h) => h.reachable) ? EXIT.ok : EXIT.failed;
        }
        for (const h of hosts) {
          out.line(`${h.host} (${h.address}:${h.port}): ${h.reachable ? `${h.offered.length} offered` : `unreachable: ${h.error ?? ''}`}`);
          for (const d of h.offered) out.line(`  ${d.busid}  ${hex4(d.vendorId)}:${hex4(d.productId)}  ${d.dongle ?? '(not in the lab)'}  ${d.description}`);
          for (const a of attached.filter((x) => x.host === h.host)) out.line(`  ${a.remoteBusid}  attached here: ${a.dongle} -> vhci port ${a.vhciPort}, ${a.localBusid ?? 'enumerating'}`);
        }
        return hosts.every((h) => h.reachable) ? EXIT.ok : EXIT.failed;
      }
      case 'attach': {
        const { attached, failed } = await lab.attach(names);
        printRows(out, rowsOf(attached, await findPorts(attached)), failed);
        if (o.watch) await watch(lab, names, out, o.duration);
        return failed.length === 0 ? EXIT.ok : EXIT.failed;
      }
      case 'detach': {
        const gone = await lab.detach(names);
        if (out.json) out.data({ detached: gone });
        else if (gone.length === 0) out.line('nothing to detach');
        else for (const a of gone) out.line(`detached ${a.dongle} (vhci port ${a.vhciPort}, ${a.localBusid ?? '-'})`);
        return EXIT.ok;
      }
      default:
        throw new CliError(`lab takes list, attach or detach, not '${op}'`, EXIT.usage);
    }
  } catch (err) {
    if (err instanceof LabError || err instanceof UsbipCommandError) throw new CliError(err.message, EXIT.failed);
    throw err;
  }
}

/** attach --watch: the supervisor keeps the dongles imported and says what happens. */
async function watch(lab: Lab, names: readonly string[], out: Output, duration?: number): Promise<void> {
  const sup = new LabSupervisor(lab);
  const say = (e: SupervisorEvent) => {
    if (out.json) out.data(e);
    else if (e.type === 'link-dead') out.line(`${e.host}: link dead (no answer for ${Math.round(e.silentMs)} ms)`);
    else if (e.type === 'link-up') out.line(`${e.host}: link back after ${Math.round(e.downMs)} ms`);
    else if (e.type === 'lost') out.line(`${e.dongle}: import lost (${e.why})`);
    else if (e.type === 'attached') out.line(`${e.dongle}: attached at vhci port ${e.attachment.vhciPort}, ${e.attachment.localBusid ?? '-'}${e.afterMs === null ? '' : ` (${Math.round(e.afterMs)} ms after the loss)`}`);
    else out.line(`${e.dongle}: attach failed: ${e.error}`);
  };
  sup.events.subscribe(say);
  await sup.start(names.length ? names : 'all');
  await new Promise<void>((resolve) => {
    const t = duration !== undefined ? setTimeout(resolve, duration) : undefined;
    process.once('SIGINT', () => {
      if (t) clearTimeout(t);
      resolve();
    });
  });
  await sup.stop();
}

/** Our stack on the imports only (never this host's own devices): ports by local bus ID. */
export function stackPortFinder(deps: ContextDeps, backend: Parameters<typeof openContext>[0]['backend']): PortFinder {
  return async (attached) => {
    const map = new Map<string, { name: string; path: string }[]>();
    if (!attached.some((a) => a.localBusid)) return map;
    const buses = await vhciBusNumbers();
    const ctx = await openContext({ mockLab: false, backend }, { ...deps, wrapBackend: (b) => importedOnly(b, buses) });
    try {
      for (const p of ctx.ports() as UsbSerialPort[]) {
        const dev = p.serial.usbDevice.name;
        map.set(dev, [...(map.get(dev) ?? []), { name: p.name, path: p.stablePath }]);
      }
    } finally {
      await ctx.close();
    }
    return map;
  };
}

/** Registers `lab` on the program (one line in program.ts). */
export function registerLabCommand(program: Command, deps: ContextDeps, alive: <T>(fn: () => Promise<T>) => Promise<T>): void {
  program
    .command('lab')
    .argument('<op>', 'list, attach or detach')
    .argument('[dongles...]', 'dongle or host names from the lab file (default: all)')
    .description('a lab of many hosts over USB/IP: list what the exporters offer, attach and detach their dongles (Linux usbip; vhci-hcd loaded here)')
    .requiredOption('--lab <file>', 'the lab description (JSON: hosts, their dongles by bus ID or serial number, hubs)')
    .option('--watch', 'attach: stay, keep the dongles imported (heartbeat, re-attach) until Ctrl-C', false)
    .option('--duration <ms>', 'with --watch: stop after this many milliseconds')
    .option('--no-ports', 'attach: do not open our drivers to show the ttyUSB names')
    .action((op: string, dongles: string[], o: { lab: string; watch: boolean; duration?: string; ports: boolean }) =>
      alive(async () => {
        const g = program.opts<{ json: boolean; backend: Parameters<typeof openContext>[0]['backend'] }>();
        process.exitCode = await labCommand(op, dongles, { lab: o.lab, watch: o.watch, ...(o.duration !== undefined ? { duration: Number(o.duration) } : {}) }, {
          out: output(g.json),
          ...(o.ports ? { findPorts: stackPortFinder(deps, g.backend) } : {}),
        });
      }),
    );
}
