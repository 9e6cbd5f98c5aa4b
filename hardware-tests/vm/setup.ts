// Installs and prepares everything the VM tier needs, idempotently: QEMU and the initramfs tools
// from apt, a Debian guest kernel and udev fetched with `apt-get download` and unpacked into the
// cache folder (.vm/, gitignored), and a busybox initramfs built from them. Every step is skipped
// when its result is already there, so a warm run costs a few stat calls.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const VM_DIR = join(REPO_ROOT, 'hardware-tests/vm');
export const CACHE_DIR = process.env.USB_HARNESS_VM_CACHE ?? join(REPO_ROOT, '.vm');

/**
 * Debian packages the host needs: QEMU itself; busybox, kmod and cpio for the initramfs; socat for
 * poking sockets by hand; tshark, which reads the guest's captures on the host (capture.vmtest.ts);
 * usbip, the USB/IP tools the guest runs from the host's / (usbip.vmtest.ts).
 */
export const HOST_PACKAGES = ['qemu-system-x86', 'busybox-static', 'kmod', 'cpio', 'socat', 'xz-utils', 'tshark', 'usbip'] as const;

/** Modules the initramfs loads to reach the root filesystem (the rest load from it, by modprobe). */
const INITRAMFS_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'] as const;

/** The machine cannot run the VM tier at all (no apt, registry unreachable, not Linux x86-64...). */
export class VmUnavailableError extends Error {
  override readonly name = 'VmUnavailableError';
  constructor(readonly reason: string) {
    super(`cannot run QEMU on this machine: ${reason}`);
  }
}

/** A step of preparing the VM failed in a way that is a bug or a broken install, not a missing capability. */
export class VmSetupError extends Error {
  override readonly name = 'VmSetupError';
}

export interface VmAssets {
  qemu: string;
  kernelVersion: string;
  /**
   * The guest kernel as an uncompressed ELF (booted through PVH): the xz-compressed bzImage
   * costs 4-7 s of decompression under TCG on every boot.
   */
  kernel: string;
  /** Folder laid out like / (usr/lib/modules/<version>), mounted as an overlay layer in the guest. */
  kernelRoot: string;
  /** Folder laid out like / with udev's files (usr/bin/udevadm, usr/lib/udev/rules.d...). */
  udevRoot: string;
  initramfs: string;
  /** Milliseconds spent installing / preparing in this call (0 when everything was cached). */
  installMs: number;
}

const log = (line: string) => process.stderr.write(`[vm] ${line}\n`);

async function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { maxBuffer: 64 << 20, ...opts, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', ...opts.env } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new VmSetupError(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.message).trim().split('\n').slice(-5).join(' | ')}`);
  }
}

function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  return undefined;
}

let aptUpdated = false;
async function aptUpdateOnce(): Promise<void> {
  if (aptUpdated) return;
  log('apt-get update');
  await sh('apt-get', ['update', '-qq']);
  aptUpdated = true;
}

async function missingPackages(names: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const n of names) {
    const out = await run('dpkg-query', ['-W', '-f=${Status}', n]).then((r) => r.stdout, () => '');
    if (!out.includes('install ok installed')) missing.push(n);
  }
  return missing;
}

/** Why this machine can never run the tier (checked before installing anything), or undefined. */
function hostUnsuitable(): string | undefined {
  if (process.platform !== 'linux') return `the host is ${process.platform}, not Linux`;
  if (process.arch !== 'x64') return `the host is ${process.arch}; the guest kernel and QEMU target are x86-64`;
  if (!which('apt-get') || !which('dpkg-deb')) return 'no apt-get/dpkg-deb to install QEMU and the guest kernel (not a Debian-like host)';
  if (typeof process.getuid === 'function' && process.getuid() !== 0 && !which('qemu-system-x86_64')) return 'QEMU is not installed and installing it needs root';
  return undefined;
}

/** apt failures that mean "this machine cannot get QEMU", rather than a bug here. */
function unavailableFromApt(err: unknown): VmUnavailableError {
  const msg = err instanceof Error ? err.message : String(err);
  return new VmUnavailableError(`installing from apt failed (${msg.slice(0, 300)})`);
}

async function ensureHostPackages(): Promise<void> {
  const missing = await missingPackages(HOST_PACKAGES);
  if (missing.length === 0) return;
  log(`installing ${missing.join(' ')}`);
  try {
    await aptUpdateOnce();
    await sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  } catch (err) {
    throw unavailableFromApt(err);
  }
}

/** The kernel package linux-image-amd64 points at now, e.g. linux-image-6.1.0-56-amd64. */
async function currentKernelPackage(): Promise<string> {
  const query = async () => {
    const out = await sh('apt-cache', ['depends', 'linux-image-amd64']).catch(() => '');
    return /Depends:\s*(linux-image-[0-9][^\s]*-amd64)/.exec(out)?.[1];
  };
  let pkg = await query();
  if (!pkg) {
    await aptUpdateOnce();
    pkg = await query();
  }
  if (!pkg) throw new VmUnavailableError('apt knows no linux-image-amd64 (no Debian package lists?)');
  return pkg;
}

/** A kernel unpacked earlier (any version): reused so warm runs never touch apt. */
function cachedKernel(): { version: string; root: string } | undefined {
  if (!existsSync(CACHE_DIR)) return undefined;
  const dirs = readdirSync(CACHE_DIR).filter((d) => d.startsWith('kernel-') && existsSync(join(CACHE_DIR, d, '.complete')));
  const pick = process.env.USB_HARNESS_VM_KERNEL ? dirs.find((d) => d === `kernel-${process.env.USB_HARNESS_VM_KERNEL}`) : dirs.sort().at(-1);
  return pick ? { version: pick.slice('kernel-'.length), root: join(CACHE_DIR, pick) } : undefined;
}

/**
 * Moves /lib, /bin and /sbin of an unpacked package under usr/: the host has a merged /usr
 * (/lib is a symlink), and in an overlay a real /lib directory in an upper layer would hide the
 * host's whole /usr/lib.
 */
function mergeUsr(root: string): void {
  for (const top of ['lib', 'bin', 'sbin', 'lib64']) {
    const from = join(root, top);
    if (!existsSync(from) || !statSync(from).isDirectory()) continue;
    const to = join(root, 'usr', top);
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from)) {
      const dest = join(to, entry);
      if (existsSync(dest)) {
        // Both trees have it (e.g. lib/udev and usr/lib/udev): merge one level down.
        for (const sub of readdirSync(join(from, entry))) renameSync(join(from, entry, sub), join(dest, sub));
      } else {
        renameSync(join(from, entry), dest);
      }
    }
    rmSync(from, { recursive: true, force: true });
  }
}

async function downloadAndUnpack(pkg: string, into: string): Promise<void> {
  const tmp = `${into}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await aptUpdateOnce();
    // apt-get download as root writes into a folder _apt cannot read and warns; harmless.
    await sh('apt-get', ['download', '-qq', pkg], { cwd: tmp });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw unavailableFromApt(err);
  }
  const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
  if (!deb) throw new VmSetupError(`apt-get download ${pkg} left no .deb in ${tmp}`);
  await sh('dpkg-deb', ['-x', join(tmp, deb), join(tmp, 'root')]);
  rmSync(into, { recursive: true, force: true });
  renameSync(join(tmp, 'root'), into);
  rmSync(tmp, { recursive: true, force: true });
}

async function ensureKernel(): Promise<{ version: string; root: string }> {
  const cached = cachedKernel();
  if (cached) return cached;
  const pkg = await currentKernelPackage();
  const version = pkg.slice('linux-image-'.length);
  const root = join(CACHE_DIR, `kernel-${version}`);
  log(`fetching guest kernel ${pkg}`);
  await downloadAndUnpack(pkg, root);
  // modules.dep for the guest's modprobe (the package's postinst would run depmod).
  await sh('depmod', ['-b', root, version]);
  mergeUsr(root);
  await extractVmlinux(join(root, 'boot', `vmlinuz-${version}`), join(root, 'boot', `vmlinux-${version}`));
  writeFileSync(join(root, '.complete'), `${pkg}\n`);
  return { version, root };
}

/** Unpacks the ELF kernel from a bzImage (what the kernel's scripts/extract-vmlinux does, xz only). */
async function extractVmlinux(bzImage: string, out: string): Promise<void> {
  const img = readFileSync(bzImage);
  const magic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  const at = img.indexOf(magic);
  if (at < 0) throw new VmSetupError(`${bzImage}: no xz stream found (kernel not built with CONFIG_KERNEL_XZ?)`);
  // xz reports trailing garbage after the stream; the ELF is complete by then.
  await sh('/bin/sh', ['-c', `tail -c +${at + 1} '${bzImage}' | xz -dc --single-stream > '${out}.tmp' 2>/dev/null; true`]);
  const head = readFileSync(`${out}.tmp`).subarray(0, 4);
  if (!head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) throw new VmSetupError(`${bzImage}: the unpacked kernel is not an ELF file`);
  renameSync(`${out}.tmp`, out);
}

async function ensureUdev(): Promise<string> {
  const done = existsSync(CACHE_DIR) ? readdirSync(CACHE_DIR).find((d) => d.startsWith('udev') && existsSync(join(CACHE_DIR, d, '.complete'))) : undefined;
  if (done) return join(CACHE_DIR, done);
  const root = join(CACHE_DIR, 'udev');
  log('fetching udev for the guest');
  await downloadAndUnpack('udev', root);
  mergeUsr(root);
  // Rules that only slow a test guest down (network naming, block probing); udev's own
  // usb/tty rules stay.
  for (const r of ['80-net-setup-link.rules', '75-net-description.rules', '60-persistent-storage.rules', '60-block.rules', '60-cdrom_id.rules', '64-btrfs.rules']) {
    rmSync(join(root, 'usr/lib/udev/rules.d', r), { force: true });
  }
  const udevadm = join(root, 'usr/bin/udevadm');
  if (!existsSync(udevadm)) throw new VmSetupError(`udev package has no usr/bin/udevadm after unpacking into ${root}`);
  // udevadm links libkmod, libblkid, libacl, libcap, libselinux: the host must have them.
  const ldd = await sh('ldd', [udevadm]).catch((e: Error) => e.message);
  if (/not found/.test(ldd)) throw new VmSetupError(`the guest's udevadm misses host libraries: ${ldd.split('\n').filter((l) => l.includes('not found')).join('; ')}`);
  writeFileSync(join(root, '.complete'), 'udev\n');
  return root;
}

/** The initramfs: busybox, the modules to mount 9p and overlay, and guest/init. Cached by content. */
async function ensureInitramfs(kernel: { version: string; root: string }): Promise<string> {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync);
  if (!busybox) throw new VmSetupError('busybox-static is installed but /bin/busybox is missing');
  const init = readFileSync(join(VM_DIR, 'guest/init'), 'utf8');
  const modDir = join(kernel.root, 'usr/lib/modules', kernel.version);
  // --show-depends wants the pre-merge layout: point -d at a root whose lib/modules exists.
  const modprobeRoot = join(CACHE_DIR, `.modprobe-root-${kernel.version}`);
  if (!existsSync(join(modprobeRoot, 'lib/modules'))) {
    mkdirSync(join(modprobeRoot, 'lib'), { recursive: true });
    await sh('ln', ['-sfn', join(kernel.root, 'usr/lib/modules'), join(modprobeRoot, 'lib/modules')]);
  }
  const order: string[] = [];
  for (const m of INITRAMFS_MODULES) {
    const out = await sh('modprobe', ['-d', modprobeRoot, '-S', kernel.version, '--show-depends', m]);
    for (const line of out.split('\n')) {
      const path = /^insmod\s+(\S+)/.exec(line)?.[1];
      if (!path) continue;
      const rel = path.slice(path.indexOf(`/modules/${kernel.version}/`) + `/modules/${kernel.version}/`.length);
      if (!order.includes(rel)) order.push(rel);
    }
  }
  const hash = createHash('sha256').update(init).update(kernel.version).update(order.join('\n')).digest('hex').slice(0, 12);
  const out = join(CACHE_DIR, `initramfs-${kernel.version}-${hash}.cpio.gz`);
  if (existsSync(out)) return out;
  log('building initramfs');
  const tree = join(CACHE_DIR, `.initramfs-${hash}`);
  rmSync(tree, { recursive: true, force: true });
  for (const d of ['bin', 'dev', 'proc', 'sys', 'modules', 'host', 'ovl', 'newroot']) mkdirSync(join(tree, d), { recursive: true });
  copyFileSync(busybox, join(tree, 'bin/busybox'));
  chmodSync(join(tree, 'bin/busybox'), 0o755);
  writeFileSync(join(tree, 'init'), init, { mode: 0o755 });
  const names: string[] = [];
  for (const rel of order) {
    const name = rel.split('/').at(-1)!;
    copyFileSync(join(modDir, rel), join(tree, 'modules', name));
    names.push(name);
  }
  writeFileSync(join(tree, 'modules/order'), names.join('\n') + '\n');
  await sh('/bin/sh', ['-c', `cd '${tree}' && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > '${out}.tmp' && mv '${out}.tmp' '${out}'`]);
  rmSync(tree, { recursive: true, force: true });
  for (const old of readdirSync(CACHE_DIR)) {
    if (old.startsWith('initramfs-') && join(CACHE_DIR, old) !== out) rmSync(join(CACHE_DIR, old), { force: true });
  }
  return out;
}

let prepared: Promise<VmAssets> | undefined;

/**
 * Everything a guest needs, installed or built as necessary (once per process). Rejects with
 * VmUnavailableError when the machine cannot run QEMU at all, VmSetupError when a step broke.
 */
export function prepareVm(): Promise<VmAssets> {
  prepared ??= (async () => {
    const t0 = performance.now();
    const unsuitable = hostUnsuitable();
    if (unsuitable) throw new VmUnavailableError(unsuitable);
    mkdirSync(CACHE_DIR, { recursive: true });
    await ensureHostPackages();
    const qemu = which('qemu-system-x86_64');
    if (!qemu) throw new VmUnavailableError('qemu-system-x86_64 is missing after installing qemu-system-x86');
    const kernel = await ensureKernel();
    const udevRoot = await ensureUdev();
    const initramfs = await ensureInitramfs(kernel);
    const installMs = Math.round(performance.now() - t0);
    return {
      qemu,
      kernelVersion: kernel.version,
      kernel: join(kernel.root, 'boot', `vmlinux-${kernel.version}`),
      kernelRoot: kernel.root,
      udevRoot,
      initramfs,
      installMs,
    };
  })();
  return prepared;
}
