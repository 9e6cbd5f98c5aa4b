// The usb-harness command line. Every command runs on the `usb` package by default, or on the
// mock lab with --mock-lab; the driver sets, the mock lab, the replay device and the demo are
// handed in by the composition root (app/usb-harness.ts), so src/cli imports neither drivers/
// nor mocks/.
import { Command, Option } from 'commander';
import { captureBackend, type CaptureHandle } from '../capture/index.ts';
import { HOST_BACKEND_NAMES, type HostBackendName } from '../index.ts';
import { registerStressCommand, type StressCommandContext } from '../stress/cli.ts';
import { attrCommand } from './commands/attr.ts';
import { consoleCommand } from './commands/console.ts';
import { registerLabCommand } from './commands/lab.ts';
import { printList } from './commands/list.ts';
import { loopbackCommand } from './commands/loopback.ts';
import { monitor } from './commands/monitor.ts';
import { replayCommand, type ReplayDeps } from './commands/replay.ts';
import { openContext, type CliContext, type ContextDeps } from './context.ts';
import { CliError, describeError, EXIT } from './errors.ts';
import { output, parseSize, type Output } from './output.ts';
import { addLineOptions, lineSettings, type LineOptionValues } from './settings-options.ts';
import { isVerboseFlag } from './verbosity.ts';

interface GlobalOptions {
  mockLab: boolean;
  paced: boolean;
  backend: HostBackendName;
  json: boolean;
  capture?: string;
}

/**
 * Keeps the process alive while a command runs: the mock lab's chip timers are unref'd (they
 * must not hold a test process open), so without this a command awaiting the emulated line
 * could see Node exit under it.
 */
async function alive<T>(fn: () => Promise<T>): Promise<T> {
  const keep = setInterval(() => undefined, 1 << 30);
  try {
    return await fn();
  } finally {
    clearInterval(keep);
  }
}

/** --capture FILE: the backend wrapper that records to the file, and closing it. */
function captureOption(g: GlobalOptions): { deps: Pick<ContextDeps, 'wrapBackend'>; close(): Promise<void> } {
  let handle: CaptureHandle | undefined;
  const file = g.capture;
  return {
    deps:
      file === undefined
        ? {}
        : {
            wrapBackend: (b) => {
              try {
                return (handle = captureBackend(b, file)).backend;
              } catch (err) {
                throw new CliError(`cannot write capture '${file}': ${(err as Error).message}`, EXIT.usage);
              }
            },
          },
    close: async () => handle?.close(),
  };
}

/** What the composition root hands the command line. */
export interface CliDeps extends ContextDeps, StressCommandContext {
  createLab(options?: { pacing?: boolean }): ReturnType<ContextDeps['createLab']> & ReturnType<StressCommandContext['createLab']>;
  createReplay: ReplayDeps['createReplay'];
  /** `usb-harness demo`: the harness on the mock lab; true when everything passed. */
  demo(out: Output, options: Pick<ContextDeps, 'wrapBackend'>): Promise<boolean>;
}

/** Parses argv and runs the command it names; the exit code lands in process.exitCode. */
export async function runCli(deps: CliDeps, argv: string[] = process.argv): Promise<void> {
  const program = new Command();
  program
    .name('usb-harness')
    .description('a userspace USB driver core for USB-serial adapters (FTDI, PL2303)')
    .option('--mock-lab', 'use the built-in mock lab (emulated FTDI and PL2303 dongles with loopback plugs) instead of real USB', false)
    .option('--paced', 'mock lab: run the emulated UARTs at their baud rates (default: as fast as their FIFOs drain)', false)
    .addOption(new Option('--backend <name>', 'USB backend for real devices').choices([...HOST_BACKEND_NAMES]).default('auto'))
    .option('--json', 'machine-readable output (JSON; JSON lines for streams)', false)
    .option('--capture <file>', 'record every USB transfer to this pcapng file (usbmon link type, for Wireshark/tshark)')
    .option('-v, --verbose', 'log more to stderr: -v info, -vv debug (default: warnings and errors; or set LOG_LEVEL)', (_v: string, n: number) => n + 1, 0)
    .showHelpAfterError()
    .exitOverride();

  /** Runs a command body in a context; errors become one line and an exit code (below). */
  function withContext(body: (ctx: CliContext, g: GlobalOptions) => Promise<number | void>, drivers = true): Promise<void> {
    return alive(async () => {
      const g = program.opts<GlobalOptions>();
      const capture = captureOption(g);
      try {
        const ctx = await openContext({ mockLab: g.mockLab, paced: g.paced, backend: g.backend, drivers }, { ...deps, ...capture.deps });
        try {
          const code = await body(ctx, g);
          if (typeof code === 'number') process.exitCode = code;
        } finally {
          await ctx.close();
        }
      } finally {
        await capture.close();
      }
    });
  }

  program
    .command('list')
    .description('USB devices, which driver bound which interface, ports and their settings')
    .action(() => withContext(async (ctx, g) => printList(ctx, output(g.json))));

  program
    .command('monitor')
    .description('the live hotplug and uevent stream (Ctrl-C stops)')
    .option('--duration <ms>', 'stop after this many milliseconds')
    .option('--churn <ms>', 'mock lab: unplug and replug a dongle every this many milliseconds')
    .option('--no-drivers', 'do not register the FTDI and PL2303 drivers')
    .action((o: { duration?: string; churn?: string; drivers: boolean }) =>
      withContext(
        (ctx, g) =>
          monitor(ctx, output(g.json), {
            ...(o.duration !== undefined ? { duration: Number(o.duration) } : {}),
            ...(o.churn !== undefined ? { churn: Number(o.churn) } : {}),
          }),
        o.drivers,
      ),
    );

  addLineOptions(
    program
      .command('console')
      .argument('<port>', 'ttyUSB name, stable path (serial:SN:if0) or serial number')
      .description('an interactive terminal on a port: raw mode, no local echo, Ctrl-] quits')
      .option('--idle-exit <ms>', 'with piped stdin: exit once the line is quiet this long after end of input', '300'),
  ).action((port: string, o: LineOptionValues & { idleExit: string }) =>
    withContext((ctx) =>
      consoleCommand(ctx, port, {
        settings: lineSettings(o),
        idleExit: Number(o.idleExit),
        write: (d) => void process.stdout.write(d),
        note: (l) => void process.stderr.write(`${l}\n`),
      }),
    ),
  );

  addLineOptions(
    program
      .command('loopback')
      .argument('<port>', 'the port to send from')
      .argument('[port2]', 'the port to receive on (a cross-wired cable); default: the same port (a loopback plug)')
      .description('a byte-exact loopback or cross-wired test with a progress bar, throughput and error counts')
      .option('--bytes <size>', 'how much to send (e.g. 65536, 64k, 1MiB)', '1MiB')
      .option('--idle-timeout <ms>', 'give up when nothing arrives for this long', '2000'),
  ).action((port: string, port2: string | undefined, o: LineOptionValues & { bytes: string; idleTimeout: string }) =>
    withContext(async (ctx, g) => {
      const ok = await loopbackCommand(ctx, output(g.json), port, port2, {
        bytes: parseSize(o.bytes),
        settings: lineSettings(o),
        idleTimeout: Number(o.idleTimeout),
        progress: !g.json && process.stderr.isTTY === true,
        paced: !ctx.lab || ctx.lab.pacing,
      });
      return ok ? EXIT.ok : EXIT.failed;
    }),
  );

  program
    .command('attr')
    .argument('<op>', 'list, read or write')
    .argument('[path]', 'e.g. bus/usb-serial/drivers/ftdi_sio/new_id')
    .argument('[value]', 'what to write')
    .description('the attribute tree: new_id, remove_id, bind, unbind, driver_override, drivers_probe...')
    .action((op: string, path: string | undefined, value: string | undefined) => withContext((ctx, g) => attrCommand(ctx, output(g.json), op, path, value)));

  program
    .command('demo')
    .description('the main job: the harness on the built-in mock lab in a few seconds')
    .action(() =>
      alive(async () => {
        const g = program.opts<GlobalOptions>();
        const capture = captureOption(g);
        try {
          process.exitCode = (await deps.demo(output(g.json), capture.deps)) ? EXIT.ok : EXIT.failed;
        } finally {
          await capture.close();
        }
      }),
    );

  addLineOptions(
    program
      .command('replay')
      .argument('<file>', 'a capture: pcapng or pcap in usbmon link type (189/220), or usbmon text')
      .description("play a capture back as an emulated device to our drivers and diff what they send against the recorded host's requests")
      .option('--device <bus:dev>', 'which recorded device (default: the first with descriptors)')
      .addOption(new Option('--fallback <who>', 'who answers requests the capture lacks').choices(['stall', 'chip']).default('stall'))
      .option('--compare-standard', 'diff standard requests too (enumeration, SET_CONFIGURATION)', false)
      .option('--settle <ms>', 'how long to wait for the echo of what was written', '1000'),
  ).action((file: string, o: LineOptionValues & { device?: string; fallback: 'stall' | 'chip'; compareStandard: boolean; settle: string }) =>
    alive(async () => {
      const g = program.opts<GlobalOptions>();
      const capture = captureOption(g);
      try {
        process.exitCode = await replayCommand(
          output(g.json),
          file,
          { ...(o.device !== undefined ? { device: o.device } : {}), fallback: o.fallback, compareStandard: o.compareStandard, settings: lineSettings(o), settle: Number(o.settle) },
          { driverSets: deps.driverSets, createReplay: deps.createReplay, ...capture.deps },
        );
      } finally {
        await capture.close();
      }
    }),
  );

  registerStressCommand(program, deps);
  registerLabCommand(program, deps, alive);

  // `stress` has its own --mock-lab (and other options with global names): hand it every option
  // after the command name, wherever the user put --mock-lab; -v stays the program's, wherever
  // the user put it.
  const stressAt = argv.indexOf('stress', 2);
  if (stressAt >= 0) {
    program.enablePositionalOptions();
    const before = argv.slice(2, stressAt);
    const after = argv.slice(stressAt + 1);
    const end = after.includes('--') ? after.indexOf('--') : after.length;
    const verbose = after.slice(0, end).filter(isVerboseFlag);
    argv = [
      ...argv.slice(0, 2),
      ...before.filter((a) => a !== '--mock-lab'),
      ...verbose,
      'stress',
      ...before.filter((a) => a === '--mock-lab'),
      ...after.slice(0, end).filter((a) => !isVerboseFlag(a)),
      ...after.slice(end),
    ];
  }

  // A closed pipe (`usb-harness monitor | head`) ends the program quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { code?: string; exitCode?: number }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      // commander printed its own message (help, a bad option)
      process.exitCode = code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : EXIT.usage;
    } else {
      const { line, exitCode } = describeError(err);
      process.stderr.write(`usb-harness: ${line}\n`);
      process.exitCode = exitCode;
    }
  }
}
