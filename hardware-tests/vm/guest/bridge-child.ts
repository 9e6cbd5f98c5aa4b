// A gadget job's emulations and FunctionFS bridges run in a child process: the job file again,
// with VM_ROLE=bridge. The `usb` package's libusb thread and FunctionFS's blocking endpoint reads
// then have their own event loop and libuv thread pool, so neither the parent's stack nor its
// synchronous calls can starve the device side (a device that stops answering looks like a
// broken chip to the kernel). The parent reads the emulations' state over IPC.
import { fork, type ChildProcess } from 'node:child_process';

/** Whether this process is the bridge child of a gadget job. */
export const isBridgeChild = (): boolean => process.env.VM_ROLE === 'bridge';

interface StateRequest {
  op: 'state';
  id: number;
}
type ChildMessage = { ready: true } | { id: number; state: unknown };

/** In the child: answers the parent's state requests with `state()`, then says it is ready. */
export function serveBridgeState(state: () => unknown): void {
  process.on('message', (m: StateRequest) => {
    if (m.op === 'state') process.send!({ id: m.id, state: state() } satisfies ChildMessage);
  });
  process.send!({ ready: true } satisfies ChildMessage);
}

export interface BridgeChild<S> {
  /** The emulations' state now (rejects if the child does not answer within 10 s). */
  state(): Promise<S>;
  /** Ends the child at once (its FunctionFS reads hold threads a graceful exit would wait on). */
  kill(): void;
}

/**
 * In the parent: forks this job file as the bridge child and resolves once its bridges are up.
 * `threadPoolSize`: the child's UV_THREADPOOL_SIZE, one thread per blocking FunctionFS read in
 * flight (endpoints of every bridged device) plus a few for file work.
 */
export async function startBridgeChild<S>(threadPoolSize: number): Promise<BridgeChild<S>> {
  const child: ChildProcess = fork(process.argv[1]!, process.argv.slice(2), {
    env: { ...process.env, VM_ROLE: 'bridge', UV_THREADPOOL_SIZE: String(threadPoolSize) },
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const kill = () => {
    if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  };
  const replies = new Map<number, (state: S) => void>();
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`the bridge child exited before it was ready (${signal ?? `exit ${code}`})`)));
    child.on('message', (m: ChildMessage) => {
      if ('ready' in m) resolve();
      else replies.get(m.id)?.(m.state as S);
    });
  });
  try {
    await ready;
  } catch (err) {
    kill();
    throw err;
  }
  let nextId = 0;
  return {
    state: () =>
      new Promise<S>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => (replies.delete(id), reject(new Error('the bridge did not answer'))), 10_000);
        replies.set(id, (s) => (clearTimeout(timer), replies.delete(id), resolve(s)));
        child.send({ op: 'state', id } satisfies StateRequest);
      }),
    kill,
  };
}
