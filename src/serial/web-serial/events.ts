// Event dispatch with a parent chain, for Web Serial's SerialPort -> Serial propagation.
//
// The Web Serial spec makes `navigator.serial` the parent of each SerialPort ("get the parent"
// of a SerialPort returns its Serial, https://wicg.github.io/serial/#serialport-interface), so
// connect/disconnect and any event dispatched at a port capture and bubble through the Serial.
// Node's EventTarget has no parent chain, so this class runs the DOM standard's dispatch
// algorithm itself (https://dom.spec.whatwg.org/#concept-event-dispatch) over the path
// [Serial, SerialPort]: capture from the root, at the target capturing listeners first
// (https://dom.spec.whatwg.org/#concept-event-listener-inner-invoke with phase "capturing",
// then "bubbling"), bubbling back up when `bubbles`; eventPhase and currentTarget set per step;
// stopPropagation / cancelBubble stop after the current target, stopImmediatePropagation at once.
// Dispatch is synchronous, so an event dispatched from a listener propagates completely before
// the outer dispatch goes on. A listener that throws is reported (globalThis.reportError where
// there is one, as a browser does; the log otherwise) and the dispatch goes on.
// Browser-safe: no Node imports.
import { childLog } from '../../log.ts';

const log = childLog('serial.web.events');

type Callback = EventListenerOrEventListenerObject;

interface Listener {
  type: string;
  callback: Callback;
  capture: boolean;
  once: boolean;
  passive: boolean;
  removed: boolean;
}

/** Per-dispatch state the DOM keeps in the event's internal flags. */
interface DispatchState {
  stopPropagation: boolean;
  stopImmediate: boolean;
  canceled: boolean;
  inPassive: boolean;
  path: EventTarget[];
}

const NONE = 0;
const CAPTURING_PHASE = 1;
const AT_TARGET = 2;
const BUBBLING_PHASE = 3;

const dispatching = new WeakMap<Event, DispatchState>();

export type EventHandler<T> = ((this: T, ev: Event) => unknown) | null;

/** An EventTarget whose events propagate through `parent` (the DOM's "get the parent"). */
export class PropagatingEventTarget extends EventTarget {
  #listeners: Listener[] = [];
  #handlers = new Map<string, { fn: EventHandler<unknown>; listener: EventListener }>();

  /** The next target on the event path (null: the path ends here). */
  protected get parentTarget(): PropagatingEventTarget | null {
    return null;
  }

  override addEventListener(type: string, callback: Callback | null, options?: AddEventListenerOptions | boolean): void {
    if (callback === null || callback === undefined) return;
    const o = typeof options === 'object' && options !== null ? options : { capture: !!options };
    const capture = !!o.capture;
    if (o.signal?.aborted) return;
    if (this.#listeners.some((l) => l.type === type && l.callback === callback && l.capture === capture)) return;
    const listener: Listener = { type: String(type), callback, capture, once: !!o.once, passive: !!o.passive, removed: false };
    this.#listeners.push(listener);
    o.signal?.addEventListener('abort', () => this.#remove(listener), { once: true });
  }

  override removeEventListener(type: string, callback: Callback | null, options?: EventListenerOptions | boolean): void {
    const capture = typeof options === 'object' && options !== null ? !!options.capture : !!options;
    const l = this.#listeners.find((x) => x.type === type && x.callback === callback && x.capture === capture);
    if (l) this.#remove(l);
  }

  #remove(l: Listener): void {
    l.removed = true;
    this.#listeners = this.#listeners.filter((x) => x !== l);
  }

  /** https://dom.spec.whatwg.org/#dom-eventtarget-dispatchevent */
  override dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event)) throw new TypeError("Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'.");
    if (dispatching.has(event)) throw new DOMException("Failed to execute 'dispatchEvent' on 'EventTarget': The event is already being dispatched.", 'InvalidStateError');
    const path: PropagatingEventTarget[] = [];
    for (let t: PropagatingEventTarget | null = this; t; t = t.parentTarget) path.push(t);
    const state: DispatchState = { stopPropagation: false, stopImmediate: false, canceled: event.defaultPrevented, inPassive: false, path };
    dispatching.set(event, state);
    const restore = instrument(event, state, this);
    try {
      for (let i = path.length - 1; i >= 0; i--) {
        const t = path[i]!;
        setPhase(event, t === this ? AT_TARGET : CAPTURING_PHASE, t);
        t.#invoke(event, state, 'capturing');
      }
      for (const t of path) {
        if (t !== this && !event.bubbles) continue;
        setPhase(event, t === this ? AT_TARGET : BUBBLING_PHASE, t);
        t.#invoke(event, state, 'bubbling');
      }
    } finally {
      setPhase(event, NONE, null);
      dispatching.delete(event);
      restore();
    }
    return !state.canceled;
  }

  /** https://dom.spec.whatwg.org/#concept-event-listener-inner-invoke */
  #invoke(event: Event, state: DispatchState, phase: 'capturing' | 'bubbling'): void {
    if (state.stopPropagation) return;
    for (const l of [...this.#listeners]) {
      if (l.type !== event.type || l.removed) continue;
      if ((phase === 'capturing') !== l.capture) continue;
      if (l.once) this.#remove(l);
      state.inPassive = l.passive;
      try {
        const cb = l.callback;
        if (typeof cb === 'function') cb.call(this, event);
        else if (cb && typeof cb.handleEvent === 'function') cb.handleEvent(event);
      } catch (err) {
        report(err);
      } finally {
        state.inPassive = false;
      }
      if (state.stopImmediate) return;
    }
  }

  /** An `on<type>` attribute: one listener, added where first set, removed when set to null. */
  protected getHandler<T>(type: string): EventHandler<T> {
    return (this.#handlers.get(type)?.fn ?? null) as EventHandler<T>;
  }

  protected setHandler<T>(type: string, fn: EventHandler<T>): void {
    const current = this.#handlers.get(type);
    if (typeof fn !== 'function') {
      if (current) {
        this.removeEventListener(type, current.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (current) {
      current.fn = fn as EventHandler<unknown>;
      return;
    }
    const entry = {
      fn: fn as EventHandler<unknown>,
      // https://html.spec.whatwg.org/#the-event-handler-processing-algorithm: false cancels.
      listener: (ev: Event) => {
        if (entry.fn?.call(this, ev) === false) ev.preventDefault();
      },
    };
    this.#handlers.set(type, entry);
    this.addEventListener(type, entry.listener);
  }
}

function setPhase(event: Event, phase: number, current: EventTarget | null): void {
  Object.defineProperty(event, 'eventPhase', { value: phase, configurable: true });
  Object.defineProperty(event, 'currentTarget', { value: current, configurable: true });
}

/**
 * Gives the event, for this dispatch, the target, the path, and stop/cancel flags this
 * dispatch reads (Node's Event keeps its own flags private). The target stays after dispatch,
 * as in the DOM.
 */
function instrument(event: Event, state: DispatchState, target: EventTarget): () => void {
  const own = (name: string, desc: PropertyDescriptor) => Object.defineProperty(event, name, { configurable: true, ...desc });
  own('target', { value: target });
  own('srcElement', { value: target });
  own('composedPath', { value: () => (dispatching.get(event) === state ? [...state.path] : []) });
  own('stopPropagation', { value: () => void (state.stopPropagation = true) });
  own('stopImmediatePropagation', { value: () => void (state.stopPropagation = state.stopImmediate = true) });
  own('cancelBubble', {
    get: () => state.stopPropagation,
    set: (v: unknown) => void (v && (state.stopPropagation = true)),
  });
  const cancel = () => {
    if (event.cancelable && !state.inPassive) state.canceled = true;
  };
  own('preventDefault', { value: cancel });
  own('defaultPrevented', { get: () => state.canceled });
  own('returnValue', { get: () => !state.canceled, set: (v: unknown) => void (v === false && cancel()) });
  return () => {
    for (const name of ['composedPath', 'stopPropagation', 'stopImmediatePropagation', 'cancelBubble']) delete (event as unknown as Record<string, unknown>)[name];
    // The flags a page may still read after dispatch keep their final values.
    const canceled = state.canceled;
    own('preventDefault', { value: () => undefined });
    own('defaultPrevented', { value: canceled });
    own('returnValue', { value: !canceled });
  };
}

function report(err: unknown): void {
  const reportError = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (typeof reportError === 'function') reportError(err);
  else log.error({ err }, 'an event listener threw');
}
