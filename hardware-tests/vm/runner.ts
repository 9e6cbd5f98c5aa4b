// Boots a Linux guest under QEMU with emulated USB serial devices and runs one job in it:
//
//   const run = await withGuest({ devices: [{ id: 'ftdi' }], job: 'hardware-tests/vm/jobs/x.ts' },
//     async (guest) => { const peer = await guest.serial('ftdi'); ... });
//   run.status   // the job's exit status, carried back through the shared job folder
//
// The guest is the host's own / (read-only 9p + tmpfs overlay), so it runs the host's node and
// this checkout's node_modules as they are. Each device is QEMU's usb-serial (an FTDI FT232BM-
// class chip) on qemu-xhci; its UART side is a unix socket the host test drives (guest.serial).
// QMP hotplugs devices (guest.plug / guest.unplug, also on the guest's request), and a virtio
// console carries JSON messages between the job and the host test (guest.channel).
// QEMU is killed on every path out (error, timeout, signal, process exit).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, isAbsolute } from 'node:path';
import { Channel } from './channel.ts';
import { QmpClient } from './qmp.ts';
import { CACHE_DIR, prepareVm, REPO_ROOT, VM_DIR, type VmAssets } from './setup.ts';

export interface UsbSerialSpec {
  /** Names the device for QMP (device id) and its chardev (`<id>-uart`). */
  id: string;
  /** Present when the guest boots (default true); false: plug it later with guest.plug(id). */
  plugged?: boolean;
  /** iSerialNumber the emulated chip reports. */
  serial?: string;
  /** QEMU physical port on xhci.0: '1.2' is port 2 of a hub on root port 1 (default: any free root port). */
  port?: string;
}

export interface GuestOptions {
  devices?: UsbSerialSpec[];
  /** A TypeScript file (relative to the repo root) the guest runs with `node --import tsx`. */
  job?: string;
  /** Or a shell command (for smoke checks). */
  shell?: string;
  /** Extra environment for the job. */
  env?: Record<string, string>;
  /** Whole run, boot included (default 180 s; TCG is slow). */
  timeoutMs?: number;
  memoryMb?: number;
  cpus?: number;
  /** QEMU trace event patterns (e.g. 'usb_serial_set_*'), written to the run's trace log. */
  trace?: string[];
  /** Start udevd in the guest (default true). */
  udev?: boolean;
  /** Extra guest kernel modules to load before the job. */
  modules?: string[];
  /** Other USB devices, as `-device` values, added after the controller and before the serial devices (hubs first). */
  usbDevices?: string[];
  /** Each line the job prints, as it comes (default: printed when USB_HARNESS_VM_VERBOSE is set). */
  onLine?: (line: string) => void;
}

export interface GuestTimings {
  /** Installing/building the VM assets in this call (0 when cached). */
  installMs: number;
  /** QEMU start to the job starting in the guest (kernel, initramfs, modules, udev). */
  bootMs: number;
  /** The job itself, to power-off. */
  jobMs: number;
  totalMs: number;
  /** Guest uptime (s) at stage2 start, after modules, after udev, at job start and end. */
  guest: Record<string, number>;
}

export interface GuestRun<T> {
  /** The job's exit status. */
  status: number;
  /** What the host callback returned. */
  value: T;
  console: string;
  jobLog: string;
  /** QEMU's trace output (GuestOptions.trace). */
  trace: string;
  /** The guest's dmesg after the job. */
  dmesg: string;
  /** What the job wrote to its result file (guest/link.ts writeResult), parsed. */
  result: unknown;
  timings: GuestTimings;
}

export interface Guest {
  readonly qmp: QmpClient;
  readonly channel: Channel;
  /** The shared job folder (host side). */
  readonly dir: string;
  /** Connects to the UART side of a device: what the guest writes arrives here, and back. */
  serial(id: string): Promise<Socket>;
  /** QMP device_add of a declared device (resolves once QEMU added it; the guest sees it ~0.2-0.4 s later). */
  plug(id: string): Promise<void>;
  /** QMP device_del; resolves on DEVICE_DELETED. */
  unplug(id: string): Promise<void>;
  /** The job's output so far. */
  jobLog(): string;
}

/** The guest did not finish in time; QEMU was killed. */
export class VmTimeoutError extends Error {
  override readonly name = 'VmTimeoutError';
}

/** QEMU exited without the job's exit status (crash, panic, failed boot). */
export class VmBootError extends Error {
  override readonly name = 'VmBootError';
}

// -- killing QEMU on every path -------------------------------------------------------------------

const live = new Set<ChildProcess>();
let hooked = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const c of live) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[sig]);
    });
  }
}

async function stopQemu(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(t);
}

// -- helpers --------------------------------------------------------------------------------------

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function readSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function connectUnix(path: string, timeoutMs: number): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect(path);
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        if (Date.now() > deadline) reject(new Error(`connecting to ${path}: ${err.message}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Appended-to file, read incrementally (the job's output, the guest's timeline). */
class FileTail {
  private offset = 0;
  private partial = '';
  text = '';
  constructor(private readonly path: string) {}
  poll(onLine?: (line: string) => void): void {
    if (!existsSync(this.path)) return;
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return;
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const chunk = buf.subarray(0, n).toString('utf8');
      this.text += chunk;
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      if (onLine) for (const l of parts) onLine(l);
    } finally {
      closeSync(fd);
    }
  }
}

function accelArgs(): string[] {
  const accel = process.env.USB_HARNESS_VM_ACCEL ?? 'tcg';
  if (accel === 'kvm') return ['-accel', 'kvm', '-cpu', 'host'];
  if (accel !== 'tcg') throw new Error(`USB_HARNESS_VM_ACCEL must be tcg or kvm, got '${accel}'`);
  // /dev/kvm on these machines is a nested PVM that does not boot stock kernels: TCG it is.
  return ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
}

function deviceArgs(d: UsbSerialSpec): Record<string, unknown> {
  // always-plugged: attached whether or not the host side has the socket open (QEMU otherwise
  // plugs the device only while its chardev is connected).
  return { driver: 'usb-serial', id: d.id, chardev: `${d.id}-uart`, bus: 'xhci.0', ...(d.port ? { port: d.port } : {}), 'always-plugged': true, ...(d.serial ? { serial: d.serial } : {}) };
}

function qemuArgs(assets: VmAssets, dir: string, opts: GuestOptions): string[] {
  // Layers above the host root, as names inside the cache folder (shared on its own: see guest/init).
  const layers = [assets.udevRoot, assets.kernelRoot].map((p) => relative(CACHE_DIR, p)).join(':');
  const args = [
    ...accelArgs(),
    '-smp', String(opts.cpus ?? 2),
    '-m', String(opts.memoryMb ?? 1536),
    '-nodefaults', '-display', 'none', '-no-reboot', '-no-user-config',
    '-kernel', assets.kernel,
    '-initrd', assets.initramfs,
    '-append', `console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init vmlayers=${layers} ${process.env.USB_HARNESS_VM_KERNEL_ARGS ?? ''}`.trim(),
    '-chardev', `file,id=con,path=${join(dir, 'console.log')}`,
    '-serial', 'chardev:con',
    '-fsdev', 'local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-fsdev', `local,id=vmlayers,path=${CACHE_DIR},readonly=on,security_model=none,multidevs=remap`,
    '-device', 'virtio-9p-pci,fsdev=vmlayers,mount_tag=vmlayers',
    '-fsdev', `local,id=vmjob,path=${dir},security_model=none`,
    '-device', 'virtio-9p-pci,fsdev=vmjob,mount_tag=vmjob',
    '-qmp', `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
    '-device', 'virtio-serial-pci,id=vser',
    '-chardev', `socket,id=ctl,path=${join(dir, 'ctl.sock')},server=on,wait=off`,
    '-device', 'virtconsole,chardev=ctl,name=ctl',
    '-device', 'qemu-xhci,id=xhci',
  ];
  for (const u of opts.usbDevices ?? []) args.push('-device', u);
  for (const d of opts.devices ?? []) {
    args.push('-chardev', `socket,id=${d.id}-uart,path=${join(dir, `${d.id}.sock`)},server=on,wait=off`);
    if (d.plugged !== false) {
      const a = deviceArgs(d);
      args.push('-device', Object.entries(a).map(([k, v]) => (k === 'driver' ? String(v) : `${k}=${v === true ? 'on' : String(v)}`)).join(','));
    }
  }
  // Extra QEMU arguments for experiments (split on spaces).
  if (process.env.USB_HARNESS_VM_QEMU_ARGS) args.push(...process.env.USB_HARNESS_VM_QEMU_ARGS.split(' ').filter(Boolean));
  if (opts.trace?.length) {
    for (const t of opts.trace) args.push('-trace', `enable=${t}`);
    args.push('-D', join(dir, 'trace.log'));
  }
  return args;
}

/** Packages with native parts, loaded from node_modules at run time rather than bundled. */
const NATIVE_PACKAGES = ['usb', 'usb3', '@serialport/bindings-cpp', 'esbuild', 'fsevents'];

/**
 * Bundles a TypeScript job into one ES module in the cache folder (inside the repo, so the
 * native packages resolve from its node_modules). Under TCG every file node or tsx touches is
 * a 9p round trip: importing src/usb through tsx took 16-20 s in the guest, one bundle ~1 s.
 */
async function bundleJob(job: string): Promise<string> {
  const esbuild = await import('esbuild');
  const entry = isAbsolute(job) ? job : join(REPO_ROOT, job);
  // Inside the repo whatever USB_HARNESS_VM_CACHE says: the externals resolve from its node_modules.
  const out = join(REPO_ROOT, '.vm', 'bundles', `${relative(REPO_ROOT, entry).replace(/[\/]/g, '_').replace(/\.ts$/, '')}.mjs`);
  await esbuild.build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'error',
    external: NATIVE_PACKAGES,
    // CommonJS dependencies (pino...) call require(): give the ES module bundle one.
    banner: { js: "import { createRequire as __vmCreateRequire } from 'node:module'; const require = __vmCreateRequire(import.meta.url);" },
  });
  return out;
}

function writeJobFolder(dir: string, opts: GuestOptions, bundle: string | undefined): void {
  copyFileSync(join(VM_DIR, 'guest/stage2.sh'), join(dir, 'stage2.sh'));
  const job = bundle ?? (opts.job ? (isAbsolute(opts.job) ? relative(REPO_ROOT, opts.job) : opts.job) : '');
  const env: Record<string, string> = {
    VM_REPO: REPO_ROOT,
    VM_JOB: job,
    // A bundle runs with plain node; a .ts job (USB_HARNESS_VM_TSX=1) through tsx.
    VM_NODE_OPTS: bundle ? '--enable-source-maps' : '--import tsx',
    VM_SHELL: opts.shell ?? '',
    VM_UDEV: opts.udev === false ? '0' : '1',
    VM_EXTRA_MODULES: (opts.modules ?? []).join(' '),
    USB_HARNESS_IN_VM: '1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    ...opts.env,
  };
  writeFileSync(join(dir, 'env.sh'), Object.entries(env).map(([k, v]) => `export ${k}=${shq(v)}`).join('\n') + '\n');
}

// -- the API --------------------------------------------------------------------------------------

/**
 * Boots a guest, runs `opts.job` in it and `hostSide` on the host at the same time; resolves
 * when both are done and the guest powered off. Rejects (after killing QEMU) if the host side
 * throws, the guest does not finish within `timeoutMs`, or QEMU exits without an exit status.
 * A job that exits non-zero resolves with that status: asserting it is the caller's business.
 */
export async function withGuest<T = void>(opts: GuestOptions, hostSide?: (guest: Guest) => Promise<T>): Promise<GuestRun<T>> {
  if (!opts.job && !opts.shell) throw new TypeError('withGuest needs a job (TypeScript file) or a shell command');
  const assets = await prepareVm();
  const installMs = consumeInstallMs(assets);
  const bundle = opts.job && !process.env.USB_HARNESS_VM_TSX ? await bundleJob(opts.job) : undefined;
  // Short socket paths (108-byte limit): the job folder lives in the OS tmpdir.
  const dir = mkdtempSync(join(tmpdir(), 'usbvm-'));
  writeJobFolder(dir, opts, bundle);
  const devices = new Map((opts.devices ?? []).map((d) => [d.id, d]));
  const verbose = !!process.env.USB_HARNESS_VM_VERBOSE;
  const onLine = opts.onLine ?? (verbose ? (l: string) => process.stderr.write(`  [guest] ${l}\n`) : undefined);

  const t0 = performance.now();
  const child = spawn(assets.qemu, qemuArgs(assets, dir, opts), { stdio: ['ignore', 'ignore', 'pipe'] });
  track(child);
  let qemuStderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (qemuStderr += s));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      qemuStderr += `spawn failed: ${err.message}\n`;
      resolve(null);
    });
  });

  const jobTail = new FileTail(join(dir, 'job.log'));
  const timeline = new FileTail(join(dir, 'timeline'));
  let jobStartAt: number | undefined;
  const poll = () => {
    jobTail.poll(onLine);
    timeline.poll();
    if (jobStartAt === undefined && timeline.text.includes('job-start')) jobStartAt = performance.now();
  };
  const poller = setInterval(poll, 100);

  let qmp: QmpClient | undefined;
  let ctlSock: Socket | undefined;
  const peers: Socket[] = [];
  const channel = new Channel((line) => ctlSock?.write(line));
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new VmTimeoutError(`guest did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  timedOut.catch(() => undefined);

  const diagnostics = () =>
    `\n--- console (tail) ---\n${tail(readSafe(join(dir, 'console.log')))}\n--- stage2 ---\n${tail(readSafe(join(dir, 'stage2.log')), 10)}` +
    `\n--- job (tail) ---\n${tail(jobTail.text)}\n--- qemu stderr ---\n${tail(qemuStderr, 10)}\n(job folder kept: ${dir})`;

  let keepDir = !!process.env.USB_HARNESS_VM_KEEP;
  try {
    qmp = await Promise.race([QmpClient.connect(join(dir, 'qmp.sock'), 15_000), exited.then(() => Promise.reject(new VmBootError(`QEMU exited at start: ${qemuStderr.trim()}`)))]);
    ctlSock = await connectUnix(join(dir, 'ctl.sock'), 10_000);
    ctlSock.setEncoding('utf8').on('data', (s: string) => channel.receive(s));
    ctlSock.on('error', () => undefined);

    const plug = async (id: string) => {
      const d = devices.get(id);
      if (!d) throw new Error(`no device '${id}' declared in withGuest({ devices })`);
      await qmp!.execute('device_add', deviceArgs(d));
    };
    const unplug = async (id: string) => {
      const since = qmp!.eventCount;
      await qmp!.execute('device_del', { id });
      await qmp!.waitEvent((e) => e.event === 'DEVICE_DELETED' && e.data?.device === id, 10_000, since, `DEVICE_DELETED ${id}`);
    };
    channel.handle('plug', (a) => plug((a as { id: string }).id));
    channel.handle('unplug', (a) => unplug((a as { id: string }).id));
    channel.handle('qmp', (a) => {
      const { execute, arguments: args } = a as { execute: string; arguments?: Record<string, unknown> };
      return qmp!.execute(execute, args);
    });

    const guest: Guest = {
      qmp,
      channel,
      dir,
      async serial(id) {
        if (!devices.has(id)) throw new Error(`no device '${id}' declared in withGuest({ devices })`);
        const s = await connectUnix(join(dir, `${id}.sock`), 5000);
        peers.push(s);
        return s;
      },
      plug,
      unplug,
      jobLog: () => {
        poll();
        return jobTail.text;
      },
    };

    const host = (hostSide ? hostSide(guest) : Promise.resolve(undefined as T)).catch((err: unknown) => {
      // The host side failed: no point waiting for the guest.
      child.kill('SIGKILL');
      throw err;
    });
    const [value, code] = await Promise.race([Promise.all([host, exited]), timedOut]);
    poll();
    const statusText = readSafe(join(dir, 'status')).trim();
    if (!statusText) {
      keepDir = true;
      throw new VmBootError(`QEMU exited (code ${code}) without the job's exit status${diagnostics()}`);
    }
    const end = performance.now();
    const marks: Record<string, number> = {};
    for (const line of timeline.text.split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v) marks[k] = Number(v);
    }
    const resultText = readSafe(join(dir, 'result.json'));
    const status = Number(statusText);
    if (status !== 0) keepDir = true;
    return {
      status,
      value,
      console: readSafe(join(dir, 'console.log')),
      jobLog: jobTail.text,
      trace: readSafe(join(dir, 'trace.log')),
      dmesg: readSafe(join(dir, 'dmesg.log')),
      result: resultText ? (JSON.parse(resultText) as unknown) : undefined,
      timings: {
        installMs,
        bootMs: Math.round((jobStartAt ?? end) - t0),
        jobMs: Math.round(end - (jobStartAt ?? end)),
        totalMs: Math.round(end - t0),
        guest: marks,
      },
    };
  } catch (err) {
    keepDir = true;
    if (err instanceof VmTimeoutError || err instanceof VmBootError) {
      poll();
      if (!err.message.includes('--- console')) err.message += diagnostics();
    } else if (err instanceof Error) {
      poll();
      err.message += diagnostics();
    }
    throw err;
  } finally {
    clearInterval(poller);
    clearTimeout(timer);
    channel.close('guest stopped');
    for (const p of peers) p.destroy();
    ctlSock?.destroy();
    qmp?.close();
    await stopQemu(child, exited);
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

let installReported = false;
/** The install time goes to the first run only. */
function consumeInstallMs(assets: VmAssets): number {
  if (installReported) return 0;
  installReported = true;
  return assets.installMs;
}

/** One line for logs: `install 0.0 s, boot 4.1 s, job 3.2 s`. */
export function formatTimings(t: GuestTimings): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `${t.installMs ? `install ${s(t.installMs)}, ` : ''}boot ${s(t.bootMs)}, job ${s(t.jobMs)}`;
}
