// `usb-harness demo` (npm start): the harness on the built-in mock lab in a few seconds.
// Drivers register while emulated dongles are plugged; a udev-like rule writes new_id the moment
// a serial driver's attribute appears; every wired port passes a byte-exact loopback; a dongle
// is yanked mid-transfer; everything is torn down and checked for leaks.
import { defaultDriverSets } from '../drivers/index.ts';
import { createMockLab } from '../mocks/lab.ts';
import { printList } from '../src/cli/commands/list.ts';
import { runLoopback, type LoopbackResult } from '../src/cli/commands/loopback.ts';
import { formatRate, table, type Output } from '../src/cli/output.ts';
import { inspectDriver, type HostBackend, type UsbSerialPort } from '../src/index.ts';
import { createStack } from '../src/stack.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface DemoOptions {
  /** Wraps the lab's backend before the stack attaches it (--capture records through it). */
  wrapBackend?: (backend: HostBackend) => HostBackend;
}

export async function demo(out: Output, options: DemoOptions = {}): Promise<boolean> {
  const t0 = performance.now();
  const ms = () => `${String(Math.round(performance.now() - t0)).padStart(5)} ms`;
  const lab = createMockLab({ driverSets: defaultDriverSets() });
  // The host first, then the drivers (as modules loaded at run time), while dongles plug in.
  const host = options.wrapBackend ? options.wrapBackend(lab.backend) : lab.backend;
  const stack = await createStack({ host, order: 'host-first', closeHost: false });
  const { model, usb } = stack;
  const say = (line: string) => (out.json ? undefined : out.line(line));

  say('== 1. drivers register while dongles are plugged; a udev-like rule writes new_id ==');
  const sub = model.uevents.subscribe((e) => {
    const interesting = e.kind === 'driver' || e.bus === 'usb-serial' || (e.action === 'add' && !e.name.includes(':'));
    if (interesting) say(`${ms()}  ${e.action.padEnd(6)} ${e.bus}/${e.kind} ${e.name}${e.driver ? ` -> ${e.driver}` : ''}`);
    if (e.kind === 'driver' && e.action === 'add' && e.bus === 'usb-serial') {
      for (const c of lab.newIds.filter((n) => n.driver === e.name)) {
        void model.attrs.write(`${e.path}/new_id`, c.id).then((r) => say(`${ms()}  udev rule: new_id '${c.id}' -> ${e.name}: ${r.ok ? 'ok' : r.error.message}`));
      }
    }
  });
  const registering = (async () => {
    for (const set of lab.driverSets) await stack.register(set);
  })();
  for (const name of lab.dongles()) {
    lab.plug(name);
    await sleep(2);
  }
  await registering;
  await lab.flush();
  await usb.settled();
  sub.unsubscribe();

  say('');
  say('== 2. what is bound ==');
  if (!out.json) printList(stack, out);

  say('');
  say('== 3. a byte-exact loopback through every wired port (64 KiB each) ==');
  const ports = stack.ports();
  const registrations = [...stack.registrations];
  const portOf = (slot: string): UsbSerialPort | undefined => {
    const [name, ch] = slot.split('.');
    const dongle = lab.dongle(name!);
    const spec = dongle.ports.find((p) => p.slot === slot) ?? dongle.ports[ch ? ch.charCodeAt(0) - 97 : 0];
    return ports.find((p) => p.serial.usbDevice.name === dongle.spec.at && p.serial.intf.interfaceNumber === spec?.interfaceNumber);
  };
  const results: LoopbackResult[] = [];
  for (const link of lab.topology().links) {
    if (link.kind === 'null-modem' && link.from > link.to) continue; // one direction per cable is enough here
    const tx = portOf(link.from);
    const rx = portOf(link.to);
    if (!tx || !rx) continue;
    results.push(await runLoopback(tx, rx, { bytes: 65536, settings: { baudRate: 115200 }, idleTimeout: 2000, progress: false, paced: lab.pacing }));
  }
  if (!out.json) {
    for (const l of table([
      ['from', 'to', 'bytes', 'rate', 'errors', 'result'],
      ...results.map((r) => [r.port, r.peer, `${r.received}/${r.bytes}`, formatRate(r.bytesPerSecond), String(r.mismatches + r.lineErrors), r.ok ? 'PASS' : 'FAIL']),
    ]))
      out.line(l);
  }

  say('');
  say('== 4. a dongle yanked in the middle of a transfer ==');
  const victim = portOf('ft232r');
  let yank = 'no FT232R port';
  if (victim) {
    await victim.open({ baudRate: 115200 });
    const writing = victim.write(new Uint8Array(4 << 20)).then(
      (n) => `write finished (${n} bytes)?!`,
      (err: Error & { bytesWritten?: number }) => `${err.name}: ${err.message}`,
    );
    await sleep(15);
    lab.unplug('ft232r');
    yank = await writing;
    await lab.flush();
    await usb.settled();
  }
  say(`  ${yank}`);

  say('');
  say('== 5. teardown and leak check ==');
  for (const r of [...registrations].reverse()) await stack.deregister(r);
  const pins = registrations.flatMap((r) => [r.usbDriver, ...r.serialDrivers]).reduce((n, d) => n + inspectDriver(d).pinCount, 0);
  const dynIds = registrations.flatMap((r) => [r.usbDriver, ...r.serialDrivers]).reduce((n, d) => n + inspectDriver(d).dynamicIds.length, 0);
  const leaks = lab.dongles().map((n) => lab.resources(n)).reduce((n, r) => n + r.claimedInterfaces.length + r.pendingTransfers + (r.opened ? 1 : 0), 0);
  await stack.close();
  await lab.close();
  const ok = results.length > 0 && results.every((r) => r.ok) && yank.includes('PortDisconnectedError') && pins === 0 && dynIds === 0 && leaks === 0;
  const summary = {
    seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    dongles: lab.dongles().length,
    ports: ports.length,
    loopbacks: results.length,
    loopbacksPassed: results.filter((r) => r.ok).length,
    bytesChecked: results.reduce((n, r) => n + r.received, 0),
    yank,
    pinsLeft: pins,
    dynamicIdsLeft: dynIds,
    claimedOrPendingLeft: leaks,
    ok,
  };
  if (out.json) out.data(summary);
  else {
    say(`  pins left ${pins}, dynamic IDs left ${dynIds}, claimed interfaces / pending transfers / open devices left ${leaks}`);
    say('');
    say(`${summary.dongles} dongles, ${summary.ports} ports, ${summary.loopbacksPassed}/${summary.loopbacks} loopbacks passed, ${summary.bytesChecked} bytes checked in ${summary.seconds} s: ${ok ? 'all good' : 'SOMETHING IS WRONG'}`);
  }
  return ok;
}
