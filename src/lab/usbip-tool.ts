// Linux's `usbip` tool on the importing host (Debian's usbip package): list what an exporter
// offers, attach one of its devices to a vhci_hcd port, list the imports, detach a port. The
// kernel does the rest (vhci_hcd); nothing here speaks the USB/IP protocol or listens.
import { childLog } from '../log.ts';
import { lastLine, runCommand, type CommandRunner } from './command.ts';
import { UsbipCommandError } from './errors.ts';
import { USBIP_PORT } from './lab-file.ts';
import { parsePortList, parseRemoteList, type ExportedDevice, type ImportedPort } from './usbip-output.ts';

const log = childLog('lab.usbip');

export interface UsbipToolOptions {
  /** The program (default `usbip`, found on PATH). */
  program?: string;
  run?: CommandRunner;
  /** Per command (ms, default 15,000: `usbip list -r` to a host that drops packets waits for TCP). */
  timeoutMs?: number;
}

export class UsbipTool {
  private readonly program: string;
  private readonly run: CommandRunner;
  private readonly timeoutMs: number;

  constructor(o: UsbipToolOptions = {}) {
    this.program = o.program ?? 'usbip';
    this.run = o.run ?? runCommand;
    this.timeoutMs = o.timeoutMs ?? 15_000;
  }

  /** `--tcp-port` goes before the command (usbip.c parses it as a global option). */
  private argv(port: number, args: string[]): string[] {
    return [this.program, ...(port === USBIP_PORT ? [] : ['--tcp-port', String(port)]), ...args];
  }

  private async exec(argv: string[]): Promise<string> {
    const r = await this.run(argv, { timeoutMs: this.timeoutMs });
    log.debug({ argv, code: r.code }, 'usbip');
    if (r.code !== 0) throw new UsbipCommandError(argv, r.code, r.code === null && r.stderr === '' ? 'did not finish' : lastLine(r));
    return `${r.stdout}\n${r.stderr}`;
  }

  /** `usbip list -r HOST`: the devices the exporter offers now (bound to usbip-host and not in use). */
  async listRemote(address: string, port = USBIP_PORT): Promise<ExportedDevice[]> {
    return parseRemoteList(await this.exec(this.argv(port, ['list', '-r', address])));
  }

  /** `usbip attach -r HOST -b BUSID`: the kernel connects and plugs the device into a vhci port. */
  async attach(address: string, busid: string, port = USBIP_PORT): Promise<void> {
    await this.exec(this.argv(port, ['attach', '-r', address, '-b', busid]));
  }

  /** `usbip port`: this host's imports. */
  async ports(): Promise<ImportedPort[]> {
    return parsePortList(await this.exec([this.program, 'port']));
  }

  /** `usbip detach -p N` (a port that is already free is not an error: usbip says so and exits 0). */
  async detach(vhciPort: number): Promise<void> {
    await this.exec([this.program, 'detach', '-p', String(vhciPort)]);
  }
}
