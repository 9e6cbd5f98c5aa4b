// The real `usb` packages on a machine without USB: one clear NoUsbSubsystemError, no unhandled
// rejection, and nothing native left holding the event loop (the process exits by itself).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NoUsbSubsystemError } from '../../../src/usb/host.ts';
import { createHostBackend, isHostBackendName } from '../../../src/usb/backends/select.ts';
import { libusbFromNamespace } from '../../../src/usb/backends/libusb-module.ts';
import { nusbFromNamespace } from '../../../src/usb/backends/nusb.ts';

const HAS_USB = process.platform === 'linux' ? existsSync('/sys/bus/usb') : true;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SELECT = pathToFileURL(fileURLToPath(new URL('../../../src/usb/backends/select.ts', import.meta.url))).href;

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  killed: boolean;
}

/** Runs an ESM snippet under tsx; kills it if it has not exited on its own after `limitMs`. */
function runChild(body: string, limitMs = 10_000): Promise<ChildResult> {
  const code = `import { createHostBackend } from ${JSON.stringify(SELECT)};\n${body}`;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, stdout, stderr, ms: Date.now() - t0, killed });
    });
  });
}

const REPORT = `
process.on('unhandledRejection', (e) => { console.log('UNHANDLED ' + (e && e.message)); });
const report = (label, p) => p.then(
  (v) => console.log(label + ' resolved ' + (Array.isArray(v) ? v.length : typeof v)),
  (e) => console.log(label + ' rejected ' + e.name + ': ' + e.message),
);
`;

describe('real backends without a USB subsystem', function () {
  this.timeout(30_000);

  for (const name of ['libusb', 'nusb', 'auto'] as const) {
    it(`${name}: getDevices gives NoUsbSubsystemError in-process, with no unhandled rejection`, async function () {
      if (HAS_USB) this.skip();
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown) => unhandled.push(e);
      process.on('unhandledRejection', onUnhandled);
      try {
        const backend = await createHostBackend(name);
        let err: unknown;
        try {
          await backend.getDevices();
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(NoUsbSubsystemError);
        const e = err as NoUsbSubsystemError;
        expect(e.message).to.match(/no USB subsystem on this machine for backend '(libusb|nusb)' \(\/sys\/bus\/usb/);
        expect(e.message).to.contain('--mock-lab');
        await backend.close();
        await new Promise((r) => setTimeout(r, 50));
        expect(unhandled).to.deep.equal([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it(`${name}: a process that only calls getDevices exits by itself`, async () => {
      const r = await runChild(`${REPORT}
const b = await createHostBackend(${JSON.stringify(name)});
await report('getDevices', b.getDevices());
// deliberately no close(): a rejected getDevices must leave nothing behind
`);
      expect(r.killed, `did not exit within the limit; stdout: ${r.stdout} stderr: ${r.stderr}`).to.equal(false);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.not.contain('UNHANDLED');
      if (HAS_USB) expect(r.stdout).to.match(/getDevices resolved/);
      else expect(r.stdout).to.match(/getDevices rejected NoUsbSubsystemError: no USB subsystem on this machine/);
    });
  }

  for (const name of ['libusb', 'nusb'] as const) {
    it(`${name}: a live native hotplug watcher is released by its stop function`, async () => {
      // platform: 'darwin' skips the sysfs check so the native watcher really starts here.
      const r = await runChild(`${REPORT}
const b = await createHostBackend(${JSON.stringify(name)}, { ${name}: { platform: 'darwin' } });
const stop = await b.watch(() => {});
console.log('watching');
stop();
`);
      expect(r.killed, `still running after stop(); stdout: ${r.stdout} stderr: ${r.stderr}`).to.equal(false);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain('watching');
      expect(r.stdout).to.not.contain('UNHANDLED');
    });
  }

  it('libusb failing to initialise (INIT_ERROR, as the package reports it) is NoUsbSubsystemError', () => {
    // The package then defines neither Device nor getDeviceList, only INIT_ERROR.
    expect(() => libusbFromNamespace({ usb: { INIT_ERROR: -99 } })).to.throw(NoUsbSubsystemError, /libusb_init failed with error -99/);
    expect(() => libusbFromNamespace({ default: { usb: {} } })).to.throw(NoUsbSubsystemError, /did not initialise/);
    expect(() => nusbFromNamespace({})).to.throw(NoUsbSubsystemError, /lacks nativeGetDevices/);
  });

  it('webusb outside a browser: NoUsbSubsystemError naming navigator.usb', async () => {
    let err: unknown;
    try {
      await createHostBackend('webusb');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(NoUsbSubsystemError);
    expect((err as Error).message).to.contain("backend 'webusb' (navigator.usb is not available)");
  });

  it('auto in Node picks libusb; unknown names are refused', async () => {
    const b = await createHostBackend('auto');
    expect(b.name).to.equal('libusb', 'usb 2.x loads here; elsewhere auto may fall back to nusb');
    await b.close();
    expect(isHostBackendName('nusb')).to.equal(true);
    expect(isHostBackendName('usbip')).to.equal(false);
    let err: unknown;
    try {
      await createHostBackend('usbip' as never);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(TypeError);
    expect((err as Error).message).to.contain("unknown host backend 'usbip'");
  });
});
