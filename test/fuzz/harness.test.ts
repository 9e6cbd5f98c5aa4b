// The fuzzer's own checks catch what they claim to: a failing case shrinks and names its seed,
// path and replay command; a hang trips the watchdog; a claim held with nothing bound, a raw
// backend error from a port call and an untyped error are violations.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import fc from 'fast-check';
import { MockUsbDevice } from '../../mocks/index.ts';
import { FuzzViolation, fuzzStack, runTarget, typedErrorName, withWatchdog } from './harness.ts';

/**
 * A child process running a target whose case `bad` enters `loop` (source of an async function
 * body), under a starvation bound of 1.5 s. `during` acts on the child while it runs.
 */
function childTarget(loop: string, reportDir: string, during?: (child: ChildProcess) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }> {
  const harness = fileURLToPath(new URL('./harness.ts', import.meta.url));
  const code = `const fc = (await import('fast-check')).default;
const { runTarget } = await import(${JSON.stringify(harness)});
// A module of its own (a script URL, as the project's files have) for the loop.
const { endlessChain } = await import('data:text/javascript,' + encodeURIComponent(${JSON.stringify(`export async function endlessChain() { ${loop} }`)}));
const r = await runTarget('selftest', fc.integer({ min: 0, max: 9 }), async (n) => {
  if (n === 7) await endlessChain();
  await new Promise((r) => setTimeout(r, 1));
  return n % 2 ? 'odd' : 'even';
}, { numRuns: 40, seed: 42 });
process.stdout.write('ended: ' + r.cases + ' cases\\n');
process.exit(0);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      env: { ...process.env, LOG_LEVEL: 'silent', FUZZ_STARVE_MS: '1500', FUZZ_REPORT_DIR: reportDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const bound = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(bound);
      resolve({ code, signal, stderr, stdout });
    });
    during?.(child);
  });
}

describe('fuzz harness', () => {
  it('a failing case is shrunk to its minimum and reported with seed, path and replay command', async () => {
    const err = await runTarget(
      'selftest',
      fc.integer({ min: 0, max: 1000 }),
      async (n) => {
        if (n > 50) throw new FuzzViolation(`too big: ${n}`);
        return 'small';
      },
      { numRuns: 200, seed: 42 },
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).to.be.instanceOf(FuzzViolation);
    expect(err!.message).to.match(/seed 42, path [\d:]+/);
    expect(err!.message).to.include('minimal case: [51]');
    expect(err!.message).to.match(/replay: FUZZ_SEED=42 FUZZ_PATH=[\d:]+ FUZZ_TARGET=selftest/);
  });

  it('a case that never ends trips the watchdog', async () => {
    const err = await withWatchdog('stuck case', new Promise(() => undefined), 20).catch((e: unknown) => e as Error);
    expect(err).to.be.instanceOf(FuzzViolation);
    expect((err as Error).message).to.equal('hang: stuck case did not finish within 20 ms');
  });

  it('a process stalled as a whole (not run by a loaded machine) past the bound is not a hang: the watchdog counts timer ticks', async () => {
    const done = new Promise<string>((r) => setImmediate(() => r('done')));
    const watched = withWatchdog('stalled case', done, 100);
    // The whole process stops for 3 bounds' worth of wall time, as when the OS runs others.
    const end = performance.now() + 300;
    while (performance.now() < end);
    expect(await watched).to.equal('done');
  });

  it('untyped errors are violations, named ones are outcomes', () => {
    expect(() => typedErrorName(new TypeError("Cannot read properties of undefined (reading 'x')"), 'port.open')).to.throw(FuzzViolation, /untyped TypeError/);
    expect(() => typedErrorName('a string', 'port.open')).to.throw(FuzzViolation, /non-Error/);
    const named = new Error('gone');
    named.name = 'PortDisconnectedError';
    expect(typedErrorName(named, 'port.open')).to.equal('PortDisconnectedError');
  });

  it('an interface claimed with no driver bound is a leaked claim', async () => {
    const foreign = new MockUsbDevice({
      idVendor: 0x1234,
      idProduct: 0x5678,
      configurations: [{ interfaces: [{ endpoints: [{ bEndpointAddress: 0x81, type: 'bulk' }] }] }],
    });
    const stack = await fuzzStack();
    try {
      await stack.plug(foreign, undefined, { kernelDriver: { bound: 'none' } });
      stack.checkPlugged([foreign]);
      await foreign.open();
      await foreign.claimInterface(0);
      expect(() => stack.checkPlugged([foreign])).to.throw(FuzzViolation, /leaked-claim: interface\(s\) 0 of 1234:5678 claimed with no driver bound/);
    } finally {
      await stack.dispose();
    }
  });

  describe('the starvation watchdog (a worker thread the fuzzed code cannot starve)', function () {
    this.timeout(150_000);
    let dir = '';
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'fuzz-watchdog-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('a case stuck in an endless chain of promise jobs ends the process with a report naming the case, its replay, and the stack of the loop when the thread pauses in time', async () => {
      const r = await childTarget('for (;;) await Promise.resolve();', dir);
      expect(r.signal).to.equal('SIGKILL');
      expect(r.stdout).to.not.include('ended:');
      expect(r.stderr).to.include('FUZZ WATCHDOG: the event loop ran no timer for');
      const m = /running case: fuzz target 'selftest', seed 42, run (\d+) \(replay: FUZZ_SEED=42 FUZZ_PATH=(\d+) FUZZ_TARGET=selftest[^)]*\): 7/.exec(r.stderr);
      expect(m, r.stderr).to.not.equal(null);
      expect(m![1]).to.equal(m![2]);
      // The stack is best effort (the inspector must pause a thread busy with promise jobs within
      // 10 s; on a loaded machine it may not): frames ending in the loop, or the report says so.
      const stack = /main thread stack:\n([\s\S]*?)\nreport: /.exec(r.stderr)?.[1] ?? '';
      // Stepping is bounded too: past it the last stack seen is reported, which may still be in
      // Node's promise hooks. A stack that reached the loop's own module names the loop.
      if (stack.includes('did not pause')) expect(stack).to.equal('(the main thread did not pause within 10 s)');
      else {
        expect(stack, r.stderr).to.match(/^\s+at /);
        if (stack.includes('data:text/javascript')) expect(stack, r.stderr).to.match(/\s+at endlessChain \(/);
      }
      const file = /report: (\S+)/.exec(r.stderr)![1]!;
      expect(file.startsWith(dir)).to.equal(true);
      expect(readFileSync(file, 'utf8')).to.include("running case: fuzz target 'selftest'");
    });

    it('a process the machine stops for longer than the bound (both threads stopped) is not reported', async () => {
      const r = await childTarget('await new Promise((r) => setTimeout(r, 4000));', dir, (child) => {
        // Stopped 3 s (twice the bound) while the slow case waits on its timer, then continued.
        setTimeout(() => child.kill('SIGSTOP'), 2500);
        setTimeout(() => child.kill('SIGCONT'), 5500);
      });
      expect(r.stderr).to.not.include('FUZZ WATCHDOG');
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.include('ended: 40 cases');
    });
  });
});
