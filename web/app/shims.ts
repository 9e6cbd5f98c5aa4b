// The emulated lab schedules its USB events as macrotasks with setImmediate, which browsers lack:
// a MessageChannel post is the browser's macrotask with the same ordering (after pending promise
// jobs, before timers that are due later).
if (typeof (globalThis as { setImmediate?: unknown }).setImmediate !== 'function') {
  const channel = new MessageChannel();
  const queue: Array<() => void> = [];
  channel.port1.onmessage = () => queue.shift()?.();
  (globalThis as { setImmediate?: unknown }).setImmediate = (fn: (...args: unknown[]) => void, ...args: unknown[]) => {
    queue.push(() => fn(...args));
    channel.port2.postMessage(null);
    return queue.length;
  };
}
export {};
