// The page: a serial terminal and loopback tester over Web Serial, on our usb-serial drivers over
// WebUSB. Everything it does goes through the W3C Web Serial API (`Serial`, `SerialPort`); the
// only non-spec reads are the chip's real baud rate and its name, shown beside the settings.
import type { Serial, SerialOptions, SerialPort } from '../../src/serial/web-serial.ts';
import { createPageSerial, type PageMode, type PageSerial } from './page-serial.ts';
import { LoopbackRun } from './loopback.ts';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
};

const LINE_ERRORS = new Set(['BreakError', 'FramingError', 'ParityError', 'BufferOverrunError']);

interface OpenState {
  port: SerialPort;
  reader: ReadableStreamDefaultReader<Uint8Array> | null;
  reading: Promise<void>;
  poll: ReturnType<typeof setInterval>;
  closing: boolean;
}

class Page {
  #page!: PageSerial;
  #serial!: Serial;
  #selected: SerialPort | null = null;
  #open: OpenState | null = null;
  #writeLock: Promise<void> = Promise.resolve();
  #loopback: LoopbackRun | null = null;
  #hex = false;
  readonly #decoder = new TextDecoder();

  async start(mode: PageMode): Promise<void> {
    const modeEl = $('mode');
    modeEl.textContent = mode === 'emulated' ? 'Emulated lab (in this page)' : 'Real USB (WebUSB)';
    modeEl.className = `mode ${mode}`;
    this.#page = await createPageSerial({ mode, choose: (c) => this.#choose(c) });
    this.#serial = this.#page.serial;
    this.#serial.addEventListener('connect', (ev) => {
      this.#log(`connected: ${this.#describe(ev.target as SerialPort)}`, 'ok');
      void this.#refreshPorts();
    });
    this.#serial.addEventListener('disconnect', (ev) => {
      const port = ev.target as SerialPort;
      this.#log(`disconnected: ${this.#describe(port)}`, 'bad');
      if (this.#open?.port === port) void this.#closed('the device was unplugged');
      void this.#refreshPorts();
    });
    this.#wire();
    if (this.#page.lab) this.#showLab();
    $('support').textContent = mode === 'emulated'
      ? 'The emulated lab runs in this page: FTDI, PL2303, CP210x, CH34x and CDC-ACM dongles with loopback plugs and null-modem cables.'
      : 'Pick an FTDI, Prolific, Silicon Labs, WCH or CDC-ACM adapter. On Linux, unbind the kernel driver first (or start Chromium with --enable-features=AutomaticUsbDetach); on Windows, install WinUSB (Zadig).';
    await this.#refreshPorts();
    document.body.dataset.ready = 'true';
  }

  // ---- device -------------------------------------------------------------------------------

  #describe(port: SerialPort): string {
    const info = port.getInfo();
    const hex = (n: number | undefined) => (n === undefined ? '????' : n.toString(16).padStart(4, '0'));
    const under = (port as SerialPort & { usbSerialPort?: { name: string; typeName?: string } }).usbSerialPort;
    return `${hex(info.usbVendorId)}:${hex(info.usbProductId)}${under ? ` ${under.name}${under.typeName ? ` (${under.typeName})` : ''}` : ''}`;
  }

  async #refreshPorts(): Promise<void> {
    const ports = await this.#serial.getPorts();
    if (this.#selected && !ports.includes(this.#selected) && this.#open?.port !== this.#selected) this.#selected = null;
    if (!this.#selected && ports.length > 0 && !this.#open) this.#selected = ports[0]!;
    const list = $('ports');
    list.replaceChildren(...ports.map((port) => {
      const li = document.createElement('li');
      li.className = port === this.#selected ? 'selected' : '';
      li.dataset.testid = 'port';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = this.#describe(port);
      const pick = document.createElement('button');
      pick.className = 'small';
      pick.textContent = port === this.#selected ? 'selected' : 'select';
      pick.disabled = port === this.#selected || this.#open !== null;
      pick.onclick = () => { this.#selected = port; void this.#refreshPorts(); };
      const forget = document.createElement('button');
      forget.className = 'small';
      forget.textContent = 'forget';
      forget.disabled = this.#open?.port === port;
      forget.onclick = async () => {
        await port.forget();
        this.#log(`forgot ${this.#describe(port)}`);
        if (this.#selected === port) this.#selected = null;
        await this.#refreshPorts();
      };
      li.append(name, pick, forget);
      return li;
    }));
    this.#syncControls();
  }

  async #request(): Promise<void> {
    try {
      const port = await this.#serial.requestPort({ filters: this.#page.filters });
      this.#selected = port;
      this.#log(`granted ${this.#describe(port)}`, 'ok');
    } catch (err) {
      this.#log(`no port chosen (${(err as Error).name}: ${(err as Error).message})`);
    }
    await this.#refreshPorts();
  }

  /** The emulated chooser: lists candidates in the dialog, resolves with the one clicked. */
  #choose(candidates: USBDevice[]): Promise<USBDevice | null> {
    const dialog = $<HTMLDialogElement>('chooser');
    const list = $('chooser-list');
    return new Promise((resolve) => {
      let chosen: USBDevice | null = null;
      list.replaceChildren(...candidates.map((d) => {
        const li = document.createElement('li');
        li.dataset.testid = 'chooser-item';
        const label = document.createElement('span');
        label.textContent = `${d.productName ?? 'USB device'} — ${d.manufacturerName ?? ''} (${d.vendorId.toString(16).padStart(4, '0')}:${d.productId.toString(16).padStart(4, '0')}${d.serialNumber ? `, ${d.serialNumber}` : ''})`;
        const connect = document.createElement('button');
        connect.textContent = 'Connect';
        connect.className = 'small';
        connect.onclick = (ev) => { ev.preventDefault(); chosen = d; dialog.close(); };
        li.append(label, connect);
        return li;
      }));
      if (candidates.length === 0) {
        const li = document.createElement('li');
        li.textContent = 'No compatible device is plugged in.';
        list.append(li);
      }
      dialog.addEventListener('close', () => resolve(chosen), { once: true });
      dialog.showModal();
    });
  }

  // ---- open / close -------------------------------------------------------------------------

  #options(): SerialOptions {
    return {
      baudRate: Number($<HTMLInputElement>('baud').value),
      dataBits: Number($<HTMLSelectElement>('dataBits').value),
      parity: $<HTMLSelectElement>('parity').value as SerialOptions['parity'],
      stopBits: Number($<HTMLSelectElement>('stopBits').value),
      flowControl: $<HTMLSelectElement>('flowControl').value as SerialOptions['flowControl'],
      bufferSize: 64 * 1024,
    };
  }

  async #openPort(): Promise<void> {
    const port = this.#selected;
    if (!port || this.#open) return;
    const options = this.#options();
    const status = $('port-status');
    status.className = 'status';
    status.textContent = 'Opening…';
    try {
      await port.open(options);
    } catch (err) {
      // The chip's refusal arrives in the error's message (a baud it cannot do names the nearest).
      status.className = 'status bad';
      status.textContent = `Could not open: ${(err as Error).message}`;
      this.#log(`open refused: ${(err as Error).name}: ${(err as Error).message}`, 'bad');
      return;
    }
    const state: OpenState = { port, reader: null, reading: Promise.resolve(), poll: setInterval(() => void this.#pollSignals(), 150), closing: false };
    this.#open = state;
    state.reading = this.#readLoop(state);
    const under = (port as SerialPort & { usbSerialPort?: { settings?: { actualBaudRate?: number } | null } }).usbSerialPort;
    const actual = under?.settings?.actualBaudRate;
    const frame = `${options.dataBits}${(options.parity ?? 'none')[0]!.toUpperCase()}${options.stopBits}`;
    status.className = 'status ok';
    status.textContent = `Open at ${fmt(options.baudRate)} baud ${frame}, flow control ${options.flowControl}` +
      (actual !== undefined && Math.round(actual) !== options.baudRate ? ` — the chip runs ${fmt(Math.round(actual))} baud` : '');
    this.#log(`opened ${this.#describe(port)} at ${options.baudRate} ${frame}`, 'ok');
    $<HTMLInputElement>('dtr').checked = true;
    $<HTMLInputElement>('rts').checked = true;
    this.#syncControls();
    void this.#refreshPorts();
  }

  async #readLoop(state: OpenState): Promise<void> {
    const { port } = state;
    while (port.readable && !state.closing) {
      const reader = port.readable.getReader();
      state.reader = reader;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          if (value) this.#received(value);
        }
      } catch (err) {
        const e = err as Error;
        if (LINE_ERRORS.has(e.name)) {
          // A line error ends this readable; the port gives a fresh one and reading goes on.
          this.#termError(`[${e.name}] ${e.message}`);
          this.#log(`line error: ${e.name}`, 'bad');
          this.#loopback?.lineError(e.name);
        } else if (!state.closing) {
          this.#termError(`[${e.name}] ${e.message}`);
          this.#log(`read failed: ${e.name}: ${e.message}`, 'bad');
          break;
        }
      } finally {
        reader.releaseLock();
        state.reader = null;
      }
    }
  }

  async #closePort(): Promise<void> {
    const state = this.#open;
    if (!state) return;
    state.closing = true;
    this.#loopback?.abort('the port was closed');
    await state.reader?.cancel().catch(() => undefined);
    await state.reading;
    await this.#writeLock.catch(() => undefined);
    try {
      await state.port.close();
      this.#log(`closed ${this.#describe(state.port)}`);
    } catch (err) {
      this.#log(`close: ${(err as Error).name}: ${(err as Error).message}`, 'bad');
    }
    await this.#closed('closed');
  }

  async #closed(why: string): Promise<void> {
    const state = this.#open;
    if (!state) return;
    state.closing = true;
    clearInterval(state.poll);
    this.#open = null;
    this.#loopback?.abort(why);
    const status = $('port-status');
    status.className = why === 'closed' ? 'status' : 'status bad';
    status.textContent = why === 'closed' ? 'No port open.' : `Port lost: ${why}.`;
    for (const led of document.querySelectorAll('.led')) led.classList.remove('on');
    this.#syncControls();
    await this.#refreshPorts();
  }

  // ---- data ---------------------------------------------------------------------------------

  #received(bytes: Uint8Array): void {
    if (this.#loopback?.active) {
      this.#loopback.received(bytes);
      return;
    }
    this.#termAppend(this.#hex ? hexOf(bytes) : this.#decoder.decode(bytes, { stream: true }));
  }

  /** Serialises writers: one `getWriter()` at a time, as the spec allows. */
  #write(bytes: Uint8Array): Promise<void> {
    const port = this.#open?.port;
    if (!port?.writable) return Promise.reject(new Error('the port is not open'));
    const run = this.#writeLock.catch(() => undefined).then(async () => {
      const writer = port.writable!.getWriter();
      try {
        await writer.write(bytes);
      } finally {
        writer.releaseLock();
      }
    });
    this.#writeLock = run;
    return run;
  }

  async #sendText(): Promise<void> {
    const input = $<HTMLInputElement>('text');
    const eol = $<HTMLSelectElement>('eol').value.replace('\\r', '\r').replace('\\n', '\n');
    const text = input.value + eol;
    if (!text) return;
    try {
      await this.#write(new TextEncoder().encode(text));
      this.#termAppend(text, 'tx');
      input.value = '';
    } catch (err) {
      this.#log(`write failed: ${(err as Error).name}: ${(err as Error).message}`, 'bad');
    }
  }

  async #sendFile(file: File): Promise<void> {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const t0 = performance.now();
    try {
      await this.#write(bytes);
      this.#log(`sent ${file.name}: ${fmt(bytes.length)} bytes in ${((performance.now() - t0) / 1000).toFixed(2)} s`, 'ok');
    } catch (err) {
      this.#log(`sending ${file.name} failed: ${(err as Error).name}: ${(err as Error).message}`, 'bad');
    }
  }

  // ---- signals ------------------------------------------------------------------------------

  async #setSignals(sig: { dataTerminalReady?: boolean; requestToSend?: boolean; break?: boolean }): Promise<void> {
    try {
      await this.#open?.port.setSignals(sig);
    } catch (err) {
      this.#log(`setSignals: ${(err as Error).name}: ${(err as Error).message}`, 'bad');
    }
  }

  async #sendBreak(): Promise<void> {
    await this.#setSignals({ break: true });
    this.#log('break on');
    await new Promise((r) => setTimeout(r, 250));
    await this.#setSignals({ break: false });
    this.#log('break off');
  }

  async #pollSignals(): Promise<void> {
    const port = this.#open?.port;
    if (!port) return;
    try {
      const s = await port.getSignals();
      for (const led of document.querySelectorAll<HTMLElement>('.led')) {
        const on = Boolean((s as unknown as Record<string, boolean>)[led.dataset.line!]);
        if (led.classList.contains('on') !== on) {
          led.classList.toggle('on', on);
          led.dataset.state = on ? 'on' : 'off';
        }
      }
    } catch {
      // The port closed or the device went away between polls: the disconnect event says so.
    }
  }

  // ---- loopback -----------------------------------------------------------------------------

  async #runLoopback(): Promise<void> {
    if (!this.#open || this.#loopback?.active) return;
    const total = Number($<HTMLInputElement>('lb-bytes').value.replace(/[_,\s]/g, ''));
    const result = $('lb-result');
    if (!Number.isInteger(total) || total <= 0) {
      result.className = 'status bad';
      result.textContent = 'Give a whole number of bytes.';
      return;
    }
    const progress = $<HTMLProgressElement>('lb-progress');
    const run = new LoopbackRun(total, (received) => { progress.value = received / total; });
    this.#loopback = run;
    result.className = 'status';
    result.textContent = `Looping back ${fmt(total)} bytes…`;
    this.#syncControls();
    const outcome = await run.run((chunk) => this.#write(chunk));
    this.#loopback = null;
    result.className = outcome.ok ? 'status ok' : 'status bad';
    result.textContent = outcome.message;
    result.dataset.outcome = outcome.ok ? 'pass' : 'fail';
    this.#log(`loopback: ${outcome.message}`, outcome.ok ? 'ok' : 'bad');
    this.#syncControls();
  }

  // ---- emulated lab -------------------------------------------------------------------------

  #showLab(): void {
    const lab = this.#page.lab!;
    $('lab-panel').hidden = false;
    const render = () => {
      $('lab').replaceChildren(...lab.dongles().map((name) => {
        const li = document.createElement('li');
        li.dataset.testid = `dongle-${name}`;
        const label = document.createElement('span');
        label.className = 'name';
        label.textContent = `${name} — ${lab.dongle(name).spec.description ?? ''}`;
        const btn = document.createElement('button');
        btn.className = 'small';
        const plugged = lab.isPlugged(name);
        btn.textContent = plugged ? 'unplug' : 'plug';
        btn.dataset.testid = `${plugged ? 'unplug' : 'plug'}-${name}`;
        btn.onclick = async () => {
          if (lab.isPlugged(name)) lab.unplug(name);
          else lab.plug(name);
          await lab.flush();
          render();
        };
        li.append(label, btn);
        return li;
      }));
    };
    render();
  }

  // ---- view ---------------------------------------------------------------------------------

  #wire(): void {
    $('request').onclick = () => void this.#request();
    $<HTMLFormElement>('settings').onsubmit = (ev) => { ev.preventDefault(); void this.#openPort(); };
    $('close').onclick = () => void this.#closePort();
    $<HTMLFormElement>('send').onsubmit = (ev) => { ev.preventDefault(); void this.#sendText(); };
    $<HTMLInputElement>('file').onchange = (ev) => {
      const input = ev.target as HTMLInputElement;
      const file = input.files?.[0];
      if (file) void this.#sendFile(file).finally(() => { input.value = ''; });
    };
    $<HTMLInputElement>('dtr').onchange = (ev) => void this.#setSignals({ dataTerminalReady: (ev.target as HTMLInputElement).checked });
    $<HTMLInputElement>('rts').onchange = (ev) => void this.#setSignals({ requestToSend: (ev.target as HTMLInputElement).checked });
    $('break').onclick = () => void this.#sendBreak();
    $('lb-run').onclick = () => void this.#runLoopback();
    $<HTMLInputElement>('hex').onchange = (ev) => { this.#hex = (ev.target as HTMLInputElement).checked; };
    $('clear').onclick = () => $('terminal').replaceChildren();
  }

  #syncControls(): void {
    const open = this.#open !== null;
    const busy = this.#loopback?.active ?? false;
    $<HTMLButtonElement>('open').disabled = open || !this.#selected;
    $<HTMLButtonElement>('close').disabled = !open;
    for (const id of ['baud', 'dataBits', 'parity', 'stopBits', 'flowControl']) $<HTMLInputElement>(id).disabled = open;
    for (const id of ['dtr', 'rts', 'break', 'send-button', 'file']) $<HTMLButtonElement>(id).disabled = !open || busy;
    $<HTMLButtonElement>('lb-run').disabled = !open || busy;
  }

  #termAppend(text: string, cls?: string): void {
    const term = $('terminal');
    const atEnd = term.scrollTop + term.clientHeight >= term.scrollHeight - 4;
    if (cls) {
      const span = document.createElement('span');
      span.className = cls;
      span.textContent = text;
      term.append(span);
    } else {
      term.append(text);
    }
    if (atEnd) term.scrollTop = term.scrollHeight;
  }

  #termError(text: string): void {
    const span = document.createElement('span');
    span.className = 'err';
    span.dataset.testid = 'line-error';
    span.textContent = `\n${text}\n`;
    $('terminal').append(span);
  }

  #log(text: string, cls = ''): void {
    const li = document.createElement('li');
    li.className = cls;
    li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
    const log = $('log');
    log.append(li);
    log.scrollTop = log.scrollHeight;
  }
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ') + ' ';
}

const params = new URLSearchParams(location.search);
const hasWebUsb = 'usb' in navigator;
const mode: PageMode = params.get('mode') === 'emulated' || !hasWebUsb ? 'emulated' : 'real';
const page = new Page();
(globalThis as { __page?: unknown }).__page = page;
page.start(mode).catch((err: unknown) => {
  const status = document.getElementById('mode');
  if (status) {
    status.textContent = `failed to start: ${(err as Error).message}`;
    status.className = 'mode bad';
  }
  document.body.dataset.ready = 'error';
  console.error(err);
});
