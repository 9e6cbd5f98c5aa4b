// The supervisor keeping the lab's dongles imported: a dead link found by the heartbeat (the
// imports detached, so users see the unplug now), a clean re-attach once the exporter answers,
// imports the kernel dropped (exporter unbind, closed connection), a stale connection the
// exporter still holds, and dongles the caller wants left detached. Heartbeats are run by hand
// (tickNow) so nothing here depends on timing.
import { expect } from 'chai';
import { Lab, LabSupervisor, labFromJson, type SupervisorEvent } from '../../src/lab/index.ts';
import { FakeUsbip } from './fake-usbip.ts';

function setup(exporter = true) {
  const fake = new FakeUsbip();
  const h = fake.addHost('10.0.0.5', [
    { busid: '1-1', vendorId: 0x0403, productId: 0x6001 },
    { busid: '1-2', vendorId: 0x0403, productId: 0x6001 },
  ]);
  const lab = new Lab(
    labFromJson({
      hosts: [{ name: 'rack1', address: '10.0.0.5', dongles: [{ busid: '1-1', name: 'a' }, { busid: '1-2', name: 'b' }], ...(exporter ? { exporter: { via: [] } } : {}) }],
      heartbeat: { intervalMs: 60_000, misses: 2 },
    }),
    { run: fake.run, enumerateMs: 0 },
  );
  let t = 0;
  const sup = new LabSupervisor(lab, { probe: fake.probe, vhci: fake.vhci, now: () => (t += 100) });
  const events: SupervisorEvent[] = [];
  sup.events.subscribe((e) => events.push(e));
  const kinds = () => events.splice(0).map((e) => `${e.type} ${'dongle' in e ? e.dongle : e.host}${e.type === 'lost' ? ` (${e.why})` : ''}`);
  return { fake, h, lab, sup, kinds };
}

describe('lab: the supervisor (heartbeat and re-attach)', () => {
  it('attaches the wanted dongles at start', async () => {
    const { fake, sup, kinds } = setup();
    await sup.start();
    expect(kinds()).to.deep.equal(['attached a', 'attached b']);
    expect(sup.attachments().map((a) => a.localBusid)).to.deep.equal(['3-1', '3-2']);
    expect(fake.imports).to.have.length(2);
    await sup.stop();
  });

  it('a silent network loss: dead after `misses` probes, imports detached, re-attached when the exporter answers', async () => {
    const { fake, h, sup, kinds } = setup();
    await sup.start();
    kinds();
    h.net = 'silent';
    await sup.tickNow();
    expect(kinds(), 'one missed probe is not yet a dead link').to.deep.equal([]);
    expect(fake.imports).to.have.length(2);
    await sup.tickNow();
    expect(kinds()).to.deep.equal(['link-dead rack1', 'lost a (link-dead)', 'lost b (link-dead)']);
    expect(fake.imports, 'detached: the kernel unplugs them now, not after TCP gives up').to.deep.equal([]);
    await sup.tickNow();
    expect(kinds(), 'nothing is attached while the link is dead').to.deep.equal([]);
    h.net = 'up';
    // The exporter still holds the old connections (it never heard the close): busy, then the
    // supervisor closes them there (usbip_sockfd) and attaches.
    await sup.tickNow();
    expect(kinds()).to.deep.equal(['link-up rack1', 'attach-failed a', 'attach-failed b']);
    await sup.tickNow();
    expect(kinds()).to.deep.equal(['attach-failed a', 'attach-failed b']);
    expect(fake.calls.filter((c) => c[2]?.includes('usbip_sockfd'))).to.have.length(2);
    await sup.tickNow();
    expect(kinds()).to.deep.equal(['attached a', 'attached b']);
    expect(fake.imports).to.have.length(2);
    await sup.stop();
  });

  it('without exporter access a stale connection is waited out, never touched', async () => {
    const { fake, h, sup, kinds } = setup(false);
    await sup.start();
    h.net = 'silent';
    await sup.tickNow();
    await sup.tickNow();
    h.net = 'up';
    for (let i = 0; i < 3; i++) await sup.tickNow();
    expect(fake.calls.filter((c) => c[0] === 'sh')).to.deep.equal([]);
    for (const d of h.devices) d.inUse = false; // the exporter's TCP gave up
    kinds();
    await sup.tickNow();
    expect(kinds()).to.deep.equal(['attached a', 'attached b']);
    await sup.stop();
  });

  it('imports the kernel dropped (exporter unbind, connection closed) are found in vhci status and re-attached', async () => {
    const { lab, h, sup, kinds } = setup();
    await sup.start();
    kinds();
    await lab.exporter('rack1').unbind('1-1');
    await lab.exporter('rack1').dropConnection('1-2');
    await sup.tickNow();
    expect(kinds()).to.deep.equal(['lost a (kernel)', 'lost b (kernel)', 'attach-failed a', 'attached b']);
    expect(h.devices[0]!.bound).to.equal(false);
    await lab.exporter('rack1').bind('1-1');
    await sup.tickNow();
    expect(kinds()).to.deep.equal(['attached a']);
    await sup.stop();
  });

  it('a dongle wanted detached stays detached; wanted again, it comes back', async () => {
    const { lab, sup, kinds } = setup();
    await sup.start();
    kinds();
    sup.want('a', false);
    const a = sup.attachment('a')!;
    await lab.usbip.detach(a.vhciPort);
    await sup.tickNow();
    expect(kinds()).to.deep.equal(['lost a (kernel)']);
    await sup.tickNow();
    expect(kinds()).to.deep.equal([]);
    sup.want('a', true);
    await sup.tickNow();
    expect(kinds()).to.deep.equal(['attached a']);
    expect(() => sup.want('zz', true)).to.throw(/no dongle 'zz'/);
    await sup.stop();
  });
});
