// A watchdog the fuzzed code cannot starve. The per-case watchdog (withWatchdog) runs on the
// event loop it guards: an endless chain of promise jobs, or a synchronous loop, stops every timer
// and so stops it too, and the process then only ends when the heap runs out. This one lives in a
// worker thread. The main thread bumps a heartbeat in shared memory from a timer, and at every
// case start and end, with the running case's description beside it. When the timer beat stops
// for longer than the bound (a starved event loop), or one case runs far past its own watchdog,
// the worker writes what was running (case, main thread's JavaScript stack through the inspector)
// to stderr and to a report file, and ends the process with SIGKILL: a recurrence is a clear,
// bounded failure with its evidence, not a 4 GB heap.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

/** Header slots (Int32) before the case text in the shared buffer. */
const TIMER_BEAT = 0;
const CASE_BEAT = 1;
const IN_CASE = 2;
const TEXT_LENGTH = 3;
const HEADER_BYTES = 16;
/** Bytes kept of a case's description. */
const TEXT_BYTES = 32 * 1024;

export interface StarvationWatchdogOptions {
  /** How long the event loop may run no timer before the process is ended (ms). */
  starveMs: number;
  /** How long one case may run, timers turning, before the process is ended (ms). */
  caseMs: number;
  /** Where the report (and, with --heapsnapshot-near-heap-limit, V8's snapshot) goes. */
  reportDir: string;
  /** The main thread's timer beat (ms). */
  beatMs?: number;
}

export interface StarvationWatchdog {
  readonly reportFile: string;
  /** A case starts: its description is what the report names. */
  caseStarted(description: string): void;
  caseEnded(): void;
  /** Stops beating and ends the worker. */
  stop(): Promise<void>;
}

/** The worker, as plain CommonJS (a worker does not inherit the tsx loader). */
const WORKER_SOURCE = String.raw`
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { Session } = require('node:inspector');
const { sab, starveMs, caseMs, reportFile, reportDir, headerBytes, textBytes } = workerData;
const hdr = new Int32Array(sab, 0, headerBytes / 4);
const text = new Uint8Array(sab, headerBytes, textBytes);
const CHECK_MS = 250;

let lastTimer = Atomics.load(hdr, 0);
let lastCase = Atomics.load(hdr, 1);
let timerStale = 0;
let caseStale = 0;
let lastCheck = Date.now();
let reporting = false;

// Staleness counts only time this thread was itself seen running on schedule: a process the
// machine does not run for a while (both threads stopped) is not a starved event loop.
const check = setInterval(() => {
  const now = Date.now();
  const step = Math.min(now - lastCheck, 2 * CHECK_MS);
  lastCheck = now;
  if (reporting) return;
  const t = Atomics.load(hdr, 0);
  const c = Atomics.load(hdr, 1);
  timerStale = t === lastTimer ? timerStale + step : 0;
  caseStale = c === lastCase && Atomics.load(hdr, 2) === 1 ? caseStale + step : 0;
  lastTimer = t;
  lastCase = c;
  if (timerStale > starveMs) report('the event loop ran no timer for ' + Math.round(timerStale / 1000) + ' s (an endless chain of promise jobs or a synchronous loop)');
  else if (caseStale > caseMs) report('one case has run for ' + Math.round(caseStale / 1000) + ' s, far past its own watchdog');
}, CHECK_MS);

function caseText() {
  const n = Math.min(Atomics.load(hdr, 3), textBytes);
  return n > 0 ? Buffer.from(text.slice(0, n)).toString('utf8') : '(no case running)';
}

// Script URLs by id (Debugger.scriptParsed, sent for every script at Debugger.enable): a call
// frame's own url field is left empty by current V8.
const urls = new Map();
const urlOf = (f) => urls.get(f.location.scriptId) || f.url || '';

function frames(list) {
  return (list || []).map((f) => '    at ' + (f.functionName || '<anonymous>') + ' (' + urlOf(f) + ':' + (f.location.lineNumber + 1) + ':' + (f.location.columnNumber + 1) + ')');
}

/** The main thread's stack: the inspector pauses it even inside a promise-job loop. */
function mainStack(done) {
  let finished = false;
  const finish = (s) => {
    if (finished) return;
    finished = true;
    done(s);
  };
  // Best effort: a process busy allocating may not pause in time (the case above is the report
  // then); stepping is slow, so past the bound the last stack seen is the report.
  let seen = '';
  setTimeout(() => finish(seen || '(the main thread did not pause within 10 s)'), 10000);
  try {
    const session = new Session();
    session.connectToMainThread();
    // A pause lands wherever the loop is, often inside Node's own promise hooks: step on
    // (step into follows the loop to its next promise job) until a frame of the project's own
    // code is on the stack, or give up after a bound and report what was seen.
    let steps = 0;
    const own = (f) => urlOf(f) !== '' && !urlOf(f).startsWith('node:');
    session.on('Debugger.scriptParsed', (m) => urls.set(m.params.scriptId, m.params.url));
    session.on('Debugger.paused', (m) => {
      const callFrames = m.params.callFrames;
      const lines = frames(callFrames);
      for (let a = m.params.asyncStackTrace; a; a = a.parent) {
        lines.push('  -- ' + (a.description || 'async') + ' --');
        lines.push(...frames(a.callFrames));
      }
      seen = lines.join('\n');
      if (!callFrames.some(own) && ++steps < 100) session.post('Debugger.stepInto');
      else finish(seen);
    });
    session.post('Debugger.enable', () => {
      session.post('Debugger.setAsyncCallStackDepth', { maxDepth: 16 }, () => {
        // Promise jobs created from now on carry their async parents.
        setTimeout(() => session.post('Debugger.pause'), 200);
      });
    });
  } catch (err) {
    finish('(no stack: ' + err.message + ')');
  }
}

/** V8 writing a near-heap-limit snapshot keeps the main thread busy: let it finish first. */
function snapshotBeingWritten() {
  try {
    return fs.readdirSync(reportDir).some((f) => f.endsWith('.heapsnapshot') && Date.now() - fs.statSync(reportDir + '/' + f).mtimeMs < 3000);
  } catch {
    return false;
  }
}

function report(why) {
  reporting = true;
  const running = caseText();
  mainStack((stack) => {
    const rss = Math.round(process.memoryUsage.rss() / 1048576);
    const msg = [
      '',
      'FUZZ WATCHDOG: ' + why + '; ending the process (pid ' + process.pid + ', rss ' + rss + ' MiB).',
      'running case: ' + running,
      'main thread stack:',
      stack,
      'report: ' + reportFile,
      '',
    ].join('\n');
    try {
      fs.writeFileSync(reportFile, msg);
    } catch {}
    fs.writeSync(2, msg + '\n');
    const kill = () => (snapshotBeingWritten() ? setTimeout(kill, 1000) : process.kill(process.pid, 'SIGKILL'));
    kill();
  });
}

// The port closing (stop()) ends the worker.
require('node:worker_threads').parentPort.on('message', () => {
  clearInterval(check);
  process.exit(0);
});
`;

export function startStarvationWatchdog(o: StarvationWatchdogOptions): StarvationWatchdog {
  const reportDir = resolve(o.reportDir);
  mkdirSync(reportDir, { recursive: true });
  const reportFile = resolve(reportDir, `fuzz-watchdog-${process.pid}.txt`);
  const sab = new SharedArrayBuffer(HEADER_BYTES + TEXT_BYTES);
  const hdr = new Int32Array(sab, 0, HEADER_BYTES / 4);
  const text = new Uint8Array(sab, HEADER_BYTES, TEXT_BYTES);
  const encoder = new TextEncoder();
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { sab, starveMs: o.starveMs, caseMs: o.caseMs, reportFile, reportDir, headerBytes: HEADER_BYTES, textBytes: TEXT_BYTES },
    // The worker must not run the tsx loader or the parent's heap flags' snapshot hooks.
    execArgv: [],
    stderr: false,
  });
  // A watchdog never keeps the process up, and its errors are not the process's.
  worker.unref();
  worker.on('error', () => undefined);
  const beat = setInterval(() => Atomics.add(hdr, TIMER_BEAT, 1), o.beatMs ?? 100);
  beat.unref();
  return {
    reportFile,
    caseStarted(description) {
      const { written } = encoder.encodeInto(description, text);
      Atomics.store(hdr, TEXT_LENGTH, written);
      Atomics.store(hdr, IN_CASE, 1);
      Atomics.add(hdr, CASE_BEAT, 1);
      Atomics.add(hdr, TIMER_BEAT, 1);
    },
    caseEnded() {
      Atomics.store(hdr, IN_CASE, 0);
      Atomics.add(hdr, CASE_BEAT, 1);
      Atomics.add(hdr, TIMER_BEAT, 1);
    },
    async stop() {
      clearInterval(beat);
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      worker.postMessage('stop');
      await exited;
    },
  };
}
