// `usb-harness console PORT`: an interactive terminal. Raw mode on a TTY (keys go to the port as
// typed, no local echo); Ctrl-] quits. With piped stdin, sends it all and exits once the line has
// been quiet for --idle-exit ms after end of input.
import type { SerialSettings } from '../../index.ts';
import type { CliContext } from '../context.ts';

export const QUIT_KEY = 0x1d; // Ctrl-]

export interface ConsoleOptions {
  settings: Partial<SerialSettings>;
  idleExit: number;
  /** Where port data goes (stdout). */
  write(data: Uint8Array): void;
  note(line: string): void;
}

export async function consoleCommand(ctx: CliContext, portName: string, o: ConsoleOptions): Promise<void> {
  const port = ctx.findPort(portName);
  const applied = await port.open(o.settings);
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  o.note(`connected to ${port.name} (${port.stablePath}) at ${applied.actualBaudRate} baud, ${applied.dataBits}${applied.parity[0]!.toUpperCase()}${applied.stopBits}; ${tty ? 'Ctrl-] quits' : 'reading stdin'}`);
  let lastActivity = performance.now();
  let inputEnded = false;
  let finish!: (reason: string) => void;
  const finished = new Promise<string>((r) => (finish = r));
  const sub = port.events.subscribe((e) => {
    if (e.type === 'data') {
      lastActivity = performance.now();
      o.write(e.data);
    } else if (e.type === 'line-error') o.note(`[line error: ${e.error.kind}]`);
    else if (e.type === 'disconnect') finish(`${port.name} was disconnected`);
  });
  const onData = (chunk: Buffer) => {
    lastActivity = performance.now();
    const quit = tty ? chunk.indexOf(QUIT_KEY) : -1;
    const bytes = quit >= 0 ? chunk.subarray(0, quit) : chunk;
    if (bytes.length) port.write(new Uint8Array(bytes)).catch((err: unknown) => finish(`write failed: ${(err as Error).message}`));
    if (quit >= 0) finish('quit');
  };
  const onEnd = () => {
    inputEnded = true;
  };
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('end', onEnd);
  stdin.resume();
  const idle = setInterval(() => {
    if (inputEnded && performance.now() - lastActivity > o.idleExit) finish('end of input');
  }, 20);
  const reason = await finished;
  clearInterval(idle);
  stdin.off('data', onData);
  stdin.off('end', onEnd);
  if (tty) stdin.setRawMode(false);
  stdin.pause();
  sub.unsubscribe();
  await port.drain();
  await port.close().catch(() => undefined);
  o.note(`\n${reason}; closed ${port.name}`);
}
