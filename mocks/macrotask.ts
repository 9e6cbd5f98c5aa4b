// The emulated lab's one way to run something on a later turn of the event loop: Node's
// setImmediate where it exists, otherwise a MessageChannel post, the browser's macrotask with the
// same ordering (after the promise jobs already queued, before timers due later). The lab runs in
// Node and, for the web page's emulated mode, in a browser; neither may need a global polyfill.

type Task = () => void;

/** The browser's macrotask: a MessageChannel post per task, run in the order posted. */

export function channelScheduler(): (task: Task) => void {
  const queue: Task[] = [];
  const channel = new MessageChannel();
  channel.port1.onmessage = () => queue.shift()?.();
  // Where ports can hold a process open (Node), this one must not: it only carries tasks that
  // someone is already waiting for.
  (channel.port1 as { unref?: () => void }).unref?.();
  return (task) => {
    queue.push(task);
    channel.port2.postMessage(null);
  };
}

const nodeImmediate = (globalThis as { setImmediate?: (fn: Task) => unknown }).setImmediate;

/** Runs `task` on a later macrotask. */
export const runSoon: (task: Task) => void =
  typeof nodeImmediate === 'function' ? (task) => void nodeImmediate(task) : channelScheduler();

/** Resolves on a later macrotask: lets promise jobs and I/O queued before it run first. */
export const nextMacrotask = (): Promise<void> => new Promise<void>((resolve) => runSoon(resolve));
