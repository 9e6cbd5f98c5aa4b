// (g) A USB/IP lab in one guest over loopback: usbip-host + usbipd export QEMU's FTDI, vhci_hcd
// imports it, our FTDI driver binds the import (never the exported original). The lab command
// attaches it by serial number and names the local port; bytes pass byte-exact through the
// import; a silent link (lo down) is found by the lab's heartbeat in about a second and reaches
// the user as PortDisconnectedError, and the dongle comes back by itself; then a stress run with
// every remote fault in turn (detach, exporter unbind, connection dropped, exporter restart,
// silent link) holds every invariant. One guest for all of it.
import { expect } from 'chai';
import { echoPeer } from './peers.ts';
import { withGuest } from './runner.ts';
import { jobFailed, logTimings, skipWithoutVm } from './tier.ts';

const SERIAL = 'USBIPFT1';

interface Result {
  cli: { code: number; ms: number; out: { attached: { dongle: string; localBusid: string; remoteBusid: string; vhciPort: number; ports: { name: string; path: string }[] }[]; failed: unknown[] } | null; err: string[] };
  exported: { usbipStatus: string; driver: string };
  bound: { vhciBuses: number[]; devices: string[]; ports: { name: string; path: string; device: string }[] };
  echo: { bytes: number; received: number; identical: boolean };
  link: {
    events: { type: string; ms: number; silentMs?: number; why?: string }[];
    disconnectAt: number;
    goneAt: number;
    backAt: number;
    writeAfter: string;
    echoAfter: { identical: boolean };
  };
  stress: {
    ms: number;
    ok: boolean;
    events: number;
    cycles: number;
    violations: unknown[];
    stoppedEarly: string | null;
    bytesReceived: number;
    figures: { faults: Record<string, number>; lossMs: number[]; detectMs: number[]; reattachMs: number[] } | null;
    replay: string;
  };
  after: { imports: string; exported: string };
  error?: string;
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
const round = (xs: number[]) => xs.map((x) => Math.round(x));

describe('VM: a USB/IP lab (usbip-host + usbipd exporting, vhci_hcd importing, over loopback)', function () {
  // Generous limits: under load (8 helpers on 2 cores) a TCG boot alone has taken 80 s.
  this.timeout(900_000);
  skipWithoutVm();

  it('lab attach by serial number, byte-exact through the import, a dead link found by heartbeat, stress with every remote fault', async () => {
    const run = await withGuest(
      { devices: [{ id: 'ftdi', serial: SERIAL }], job: 'hardware-tests/vm/jobs/usbip.ts', env: { VM_SERIAL: SERIAL, VM_STRESS_MS: '20000' }, timeoutMs: 850_000 },
      async (guest) => {
        const peer = echoPeer(await guest.serial('ftdi'));
        await guest.channel.next('ready', 600_000);
        return peer;
      },
    );
    logTimings('usbip lab', run);
    const r = run.result as Result;
    if (run.status !== 0) throw jobFailed(`usbip job${r?.error ? ` (${r.error.split('\n')[0]})` : ''}`, run);
    const s = r.stress;
    const f = s.figures!;
    console.log(`      [vm] lab attach + our stack naming the port: ${r.cli.ms} ms; link lost -> heartbeat verdict ${r.link.events.find((e) => e.type === 'link-dead')?.ms} ms, port gone ${r.link.goneAt} ms, back ${r.link.backAt} ms after lo down`);
    console.log(`      [vm] stress: ${s.events} events, ${s.cycles} remote faults ${JSON.stringify(f.faults)} in ${Math.round(s.ms / 1000)} s; loss median ${median(f.lossMs)} ms, dead link found in ${JSON.stringify(round(f.detectMs))} ms, re-attach median ${median(f.reattachMs)} ms`);

    // The lab command: attached by serial number; the local bus ID and our port named.
    expect(r.cli.code).to.equal(0);
    const a = r.cli.out!.attached;
    expect(a).to.have.length(1);
    expect(a[0]).to.deep.include({ dongle: 'ft', remoteBusid: '1-1' });
    expect(a[0]!.localBusid).to.match(/^\d+-1$/);
    expect(a[0]!.ports).to.deep.equal([{ name: 'ttyUSB0', path: `serial:${SERIAL}:if0` }]);
    // The exporter keeps the original bound to usbip-host, in use; our stack saw only the import.
    expect(r.exported).to.deep.equal({ usbipStatus: '2', driver: 'usbip-host' });
    expect(r.bound.devices.filter((n) => !n.includes(':')), 'devices (interfaces aside)').to.deep.equal([a[0]!.localBusid]);
    expect(r.bound.vhciBuses).to.include(Number(a[0]!.localBusid.split('-')[0]));
    expect(r.bound.ports).to.have.length(1);
    expect(r.echo).to.deep.include({ received: r.echo.bytes, identical: true });

    // A silent link: the heartbeat's verdict, the import detached, the user told, then back.
    const kinds = r.link.events.map((e) => e.type + (e.why ? `:${e.why}` : ''));
    expect(kinds).to.deep.equal(['link-dead', 'lost:link-dead', 'link-up', 'attached']);
    expect(r.link.disconnectAt, 'the port saw the disconnect').to.be.at.least(0);
    expect(r.link.writeAfter).to.equal('PortDisconnectedError');
    expect(r.link.echoAfter.identical).to.equal(true);

    // Stress with the remote faults: every invariant held.
    expect(s.violations, s.replay).to.deep.equal([]);
    expect(s.ok).to.equal(true);
    expect(s.stoppedEarly).to.equal(null);
    expect(s.cycles).to.be.greaterThan(0);
    expect(Object.values(f.faults).reduce((x, y) => x + y, 0)).to.equal(s.cycles);
    expect(f.reattachMs.length).to.be.at.least(s.cycles - 1);
    expect(s.bytesReceived).to.be.greaterThan(0);
    // Afterwards the dongle is imported again and the exporter still offers it through usbip-host.
    expect(r.after.imports).to.match(/<Port in Use>/);
    expect(r.after.exported).to.equal('2');
  });
});
