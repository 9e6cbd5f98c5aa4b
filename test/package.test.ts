// The package as a user installs it: `npm pack` (which builds dist/), then, in a fresh folder
// outside the checkout, `npm install` of the tarball from npm's cache, and the installed package
// used from plain Node ESM, from CommonJS, from a strict TypeScript project (node16 and bundler
// resolution), through `npx usb-harness`, and bundled for the browser. The consumer's files are in
// test/package/consumer/ (usage.cjs wires the stack).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROWSER_ENTRIES, bundleForBrowser } from '../scripts/browser-bundle.ts';

const checkout = fileURLToPath(new URL('..', import.meta.url));
const consumerFiles = fileURLToPath(new URL('./package/consumer', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command as a user's shell would: without the npm_* variables `npm test` sets (they
 * would point the inner npm at this checkout) and without the test runner's NODE_OPTIONS.
 */
function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Run> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS') env[k] = v;
  env.LOG_LEVEL = 'silent';
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(r: Run, what: string): Run {
  expect(r.code, `${what} failed:\n${r.stdout}\n${r.stderr}`).to.equal(0);
  return r;
}

/** The last line of stdout, as JSON (logs, if any, come before it). */
function lastJsonLine(r: Run): Record<string, unknown> {
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

interface PackedFile {
  path: string;
  size: number;
}
interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: PackedFile[];
}

describe('package: as a user installs it', function () {
  this.timeout(300_000);
  let work: string;
  let project: string;
  let packed: Packed;
  const timings: Record<string, number> = {};

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'usb-serial-harness-package-'));
    project = join(work, 'project');
    let t0 = performance.now();
    // prepack builds dist/ first.
    const pack = ok(await run(npm, ['pack', '--json', '--pack-destination', work], checkout), 'npm pack');
    packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Packed[])[0]!;
    timings.pack = performance.now() - t0;

    cpSync(consumerFiles, project, { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
    t0 = performance.now();
    ok(
      await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename), '@types/node@20'], project),
      'npm install of the tarball',
    );
    timings.install = performance.now() - t0;
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(`      package: ${packed?.entryCount} files, ${packed?.size} bytes packed (${packed?.unpackedSize} unpacked); ` +
      Object.entries(timings).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', '));
  });

  it('packs the compiled build, the CLI and the docs, and nothing else', () => {
    const paths = packed.files.map((f) => f.path);
    const top = new Set(paths.map((p) => p.split('/')[0]));
    expect([...top].sort()).to.deep.equal(['CHANGELOG.md', 'LICENSE', 'README.md', 'bin', 'dist', 'package.json']);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts')), 'TypeScript sources').to.deep.equal([]);
    expect(paths.filter((p) => /(^|\/)(test|hardware-tests|bench)\//.test(p)), 'tests and benchmarks').to.deep.equal([]);
    for (const entry of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.js.map', 'dist/mocks/index.js', 'dist/src/serial/web-serial.js', 'bin/usb-harness.js']) {
      expect(paths, entry).to.include(entry);
    }
  });

  it('installs without running a compiler: no TypeScript, tsx, esbuild or native serialport binding, no install script of its own', () => {
    const installed = join(project, 'node_modules');
    for (const dev of ['typescript', 'tsx', 'esbuild', '@serialport/bindings-cpp']) {
      expect(existsSync(join(installed, dev)), `${dev} installed`).to.equal(false);
    }
    const manifest = JSON.parse(readFileSync(join(installed, 'usb-serial-harness', 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts ?? {}, hook).not.to.have.property(hook);
    // The optional `usb` package loads a prebuilt binary: a node-gyp build would leave build/.
    if (existsSync(join(installed, 'usb'))) expect(readdirSync(join(installed, 'usb'))).not.to.include('build');
  });

  for (const [system, file] of [['plain Node ESM', 'esm.mjs'], ['CommonJS require()', 'cjs.cjs']] as const) {
    it(`from ${system}: the root and every subpath load, and bytes loop back through an FTDI and a PL2303 port`, async () => {
      const t0 = performance.now();
      const out = lastJsonLine(ok(await run(process.execPath, [file], project, 60_000), file));
      timings[file] = performance.now() - t0;
      expect(out.version).to.equal('0.1.0');
      expect(out.ports).to.deep.equal([
        { name: 'ttyUSB0', driver: 'ftdi_sio', sent: 4096, echoed: true },
        { name: 'ttyUSB1', driver: 'pl2303', sent: 4096, echoed: true },
      ]);
      expect(out.webSerialPorts).to.deep.equal([
        { usbVendorId: 0x0403, usbProductId: 0x6001 },
        { usbVendorId: 0x067b, usbProductId: 0x2303 },
      ]);
      expect(out.rates).to.be.a('string').and.not.equal('');
      const names = out.names as { root: string[]; mocks: string[] };
      expect(names.root).to.include.members(['Bus', 'Device', 'Driver', 'DriverModel', 'getDriver', 'putDriver', 'driverAttach', 'attrs', 'uevents',
        'registerUsbSerialDrivers', 'deregisterUsbSerialDrivers', 'hotplugEvents', 'UsbSubsystem', 'createHostBackend', 'createLibusbBackend',
        'createNusbBackend', 'createWebUsbBackend', 'NoUsbSubsystemError', 'createWebSerial', 'createUsbSerialBinding', 'runStress']);
      expect(names.mocks).to.include.members(['MockUsbHost', 'MockUsbDevice', 'loopbackPlug', 'nullModem', 'mockDeviceFromLsusb', 'createMockLab', 'createPl2303', 'mockFt232r']);
    });
  }

  for (const mode of ['node16', 'bundler'] as const) {
    it(`type-checks a strict TypeScript consumer under moduleResolution ${mode}, and rejects driverAttach(getDriver(drv)) unchecked`, async () => {
      const t0 = performance.now();
      const r = await run(process.execPath, [tsc, '-p', `tsconfig.${mode}.json`, '--pretty', 'false'], project);
      timings[`tsc ${mode}`] = performance.now() - t0;
      const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
      expect(errors, r.stdout + r.stderr).to.have.length(1);
      expect(errors[0]).to.match(/^misuse\.ts\(13,38\): error TS2345: Argument of type 'DriverPin<.*> \| null' is not assignable/);
      expect(r.code).to.equal(2);
    });
  }

  it('runs npx usb-harness --mock-lab list --json from the installed package, with plain node', async () => {
    const t0 = performance.now();
    const out = lastJsonLine(ok(await run(npm, ['exec', '--offline', '--', 'usb-harness', '--mock-lab', 'list', '--json'], project, 60_000), 'npx usb-harness'));
    timings.cli = performance.now() - t0;
    const devices = out.devices as { vendorId: string; interfaces: { driver: string | null }[] }[];
    const drivers = new Set(devices.flatMap((d) => d.interfaces.map((i) => i.driver)));
    expect(drivers).to.include('ftdi_sio').and.to.include('pl2303');
  });

  it('bundles the Web Serial and mock lab entries for the browser with no Node built-in, pino transport or native module', async () => {
    const t0 = performance.now();
    for (const entry of BROWSER_ENTRIES) {
      const { bytes, inputs } = await bundleForBrowser(entry, project);
      expect(bytes, entry).to.be.above(10_000);
      expect(inputs.some((i) => i.includes('node_modules/usb-serial-harness/dist/')), `${entry} bundles the installed dist`).to.equal(true);
    }
    timings.browser = performance.now() - t0;
  });

  it('without the optional usb packages: the mock stack still runs, and each real backend fails with NoUsbSubsystemError naming the package', async () => {
    const installed = join(project, 'node_modules');
    const moved = ['usb', 'usb3'].filter((p) => existsSync(join(installed, p)));
    for (const p of moved) renameSync(join(installed, p), join(work, `${p}.away`));
    try {
      ok(await run(process.execPath, ['esm.mjs'], project, 60_000), 'esm.mjs without usb');
      const probe = `
        import { createHostBackend, NoUsbSubsystemError } from 'usb-serial-harness';
        for (const name of ['libusb', 'nusb']) {
          await createHostBackend(name).then(
            () => console.log(JSON.stringify({ name, created: true })),
            (e) => console.log(JSON.stringify({ name, typed: e instanceof NoUsbSubsystemError, message: e.message })));
        }`;
      const r = ok(await run(process.execPath, ['--input-type=module', '-e', probe], project, 30_000), 'backend probe');
      const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; typed?: boolean; message?: string });
      expect(results.map((x) => x.name)).to.deep.equal(['libusb', 'nusb']);
      expect(results[0]).to.include({ typed: true });
      expect(results[0]!.message).to.match(/the 'usb' package \(libusb\) could not be loaded: .*Cannot find package 'usb'/);
      expect(results[1]).to.include({ typed: true });
      expect(results[1]!.message).to.match(/installed as usb3\) could not be loaded: .*Cannot find package 'usb3'/);
    } finally {
      for (const p of moved) renameSync(join(work, `${p}.away`), join(installed, p));
    }
  });

  it('npm version bumps package.json and package-lock.json together', async () => {
    const dir = join(work, 'version');
    mkdirSync(dir);
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(checkout, f), join(dir, f));
    ok(await run(npm, ['version', 'preminor', '--no-git-tag-version', '--ignore-scripts'], dir, 30_000), 'npm version');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { version: string; packages: Record<string, { version: string }> };
    expect(pkg.version).to.equal('0.2.0-0');
    expect(lock.version).to.equal('0.2.0-0');
    expect(lock.packages['']!.version).to.equal('0.2.0-0');
  });

  it('the browser check fails on the Node-only root entry, naming the built-in and its importer', async () => {
    let failure: unknown;
    await bundleForBrowser('usb-serial-harness', project).catch((err: unknown) => (failure = err));
    expect(failure).to.be.instanceOf(Error);
    expect((failure as Error).message).to.match(/Node built-in 'node:stream' imported by .*dist\/src\/serial\/stream\.js/);
  });
});
