// The pieces together, the way a chip emulation uses them: a minimal "echo chip" whose bulk OUT
// feeds a UartPort's TX and whose bulk IN drains the port's RX FIFO, behind a mock host.
import { expect } from 'chai';
import { defaultDriverSets } from '../../drivers/index.ts';
import { createStack } from '../../src/stack.ts';
import { transferErrorKind, type HostEvent } from '../../src/usb/host.ts';
import { createMockLab, MockLabError, MockUsbDevice, MockUsbHost, UartPort, loopbackPlug, type MockBehaviour, type MockDeviceContext } from '../../mocks/index.ts';

class EchoChip implements MockBehaviour {
  readonly port: UartPort;
  private ctx!: MockDeviceContext;
  constructor(pacing = false) {
    this.port = new UartPort({ name: 'echo', pacing, settings: { baudRate: 1_000_000 } });
    // New RX bytes: let a pending IN transfer pick them up.
    this.port.onRx(() => this.ctx?.inReady(0x81));
  }
  bind(ctx: MockDeviceContext): void {
    this.ctx = ctx;
  }
  async onOut(_ep: number, data: Uint8Array): Promise<void> {
    await this.port.write(data); // NAKs the OUT transfer while the line is busy
  }
  onIn(_ep: number, max: number): Uint8Array | undefined {
    return this.port.rxAvailable > 0 ? this.port.read(max).data : undefined;
  }
  unplugged(): void {
    this.port.reset();
  }
}

const echoSpec = {
  idVendor: 0x1209,
  idProduct: 0x0001,
  product: 'Echo',
  configurations: [
    { interfaces: [{ endpoints: [{ bEndpointAddress: 0x81, type: 'bulk' as const }, { bEndpointAddress: 0x02, type: 'bulk' as const }] }] },
  ],
};

async function plugged(chip: EchoChip) {
  const host = new MockUsbHost();
  const dev = new MockUsbDevice(echoSpec, chip);
  const hd = host.plug(dev, '2-1.4');
  await dev.open();
  await hd.kernelDriver.detach(0);
  await dev.claimInterface(0);
  return { host, dev, hd };
}

describe('mocks: the lab end to end (echo chip on a loopback plug)', () => {
  it('echoes a stream through OUT, the UART loopback and IN, losing nothing', async () => {
    const chip = new EchoChip();
    loopbackPlug(chip.port);
    const { dev } = await plugged(chip);
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
    const got: number[] = [];
    const reader = (async () => {
      while (got.length < data.length) {
        const r = await dev.transferIn(1, 64);
        got.push(...new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength));
      }
    })();
    for (let at = 0; at < data.length; at += 512) await dev.transferOut(2, data.subarray(at, at + 512));
    await reader;
    expect(got).to.deep.equal([...data]);
    expect(chip.port.stats.overruns).to.equal(0);
    expect(dev.resources()).to.deep.include({ pendingTransfers: 0, claimedInterfaces: [0] });
  });

  it('an unplug mid-stream rejects the pending reads and writes and leaves nothing behind', async () => {
    const chip = new EchoChip(true);
    loopbackPlug(chip.port);
    chip.port.setSettings({ baudRate: 9600 });
    const { dev, host } = await plugged(chip);
    const events: HostEvent[] = [];
    await host.watch((e) => events.push(e));
    const reads = [dev.transferIn(1, 64), dev.transferIn(1, 64)];
    reads.forEach((p) => p.catch(() => {}));
    const write = dev.transferOut(2, new Uint8Array(200)); // ~200 ms on the wire at 9600
    write.catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    dev.faults.inject({ on: 'in', kind: 'disconnect' });
    const last = dev.transferIn(1, 64);
    const results = await Promise.allSettled([...reads, write, last]);
    const kinds = results.map((r) => (r.status === 'rejected' ? transferErrorKind(r.reason) : 'ok'));
    // The first reads may have completed with echoed bytes before the unplug; everything else is gone.
    expect(kinds.slice(2)).to.deep.equal(['disconnected', 'disconnected']);
    expect(dev.resources()).to.deep.equal({ plugged: false, opened: false, claimedInterfaces: [], pendingTransfers: 0 });
    expect(chip.port.txPending).to.equal(0);
    await host.flush();
    expect(events.map((e) => e.type)).to.deep.equal(['disconnect']);
  });
});

describe('mocks: the built-in lab (mocks/lab.ts) and its driver sets', () => {
  const sets = [
    { name: 'ftdi_sio', specs: [{ name: 'ftdi_sio' }] },
    { name: 'pl2303', specs: [{ name: 'pl2303' }] },
    { name: 'cp210x', specs: [{ name: 'cp210x' }] },
    { name: 'ch341', specs: [{ name: 'ch341' }] },
    { name: 'cdc_acm', specs: [{ name: 'cdc_acm' }] },
  ];

  it('takes the driver sets its dongles are for and reports them in its topology', async () => {
    const lab = createMockLab({ driverSets: sets });
    expect(lab.driverSets).to.equal(sets);
    expect(lab.topology().driverSets).to.deep.equal([
      { name: 'ftdi_sio', serialDrivers: ['ftdi_sio'] },
      { name: 'pl2303', serialDrivers: ['pl2303'] },
      { name: 'cp210x', serialDrivers: ['cp210x'] },
      { name: 'ch341', serialDrivers: ['ch341'] },
      { name: 'cdc_acm', serialDrivers: ['cdc_acm'] },
    ]);
    expect(lab.pacing).to.equal(false);
    await lab.close();
    const paced = createMockLab({ driverSets: sets, pacing: true });
    expect(paced.pacing).to.equal(true);
    await paced.close();
  });

  it('refuses a dongle for a driver set it was not given, naming both', () => {
    expect(() => createMockLab({ driverSets: sets.slice(0, 1) })).to.throw(MockLabError, "dongle 'pl2303hx' is for driver set 'pl2303', which this lab was not given (driver sets: ftdi_sio)");
    expect(() => createMockLab({ driverSets: [] })).to.throw(MockLabError, '(driver sets: none)');
  });
});

describe("mocks: the lab's cables carry line states", () => {
  it('a break sent into a loopback plug comes back as a break (the NUL flagged), not as a plain NUL', async () => {
    const lab = createMockLab({ driverSets: defaultDriverSets() });
    lab.plugAll();
    await lab.flush();
    const stack = await createStack({ host: lab.backend, driverSets: defaultDriverSets(), closeHost: false });
    try {
      await stack.settled();
      const port = stack.findPort('serial:LABFT232R:if0');
      const got: { data: number[]; errors: string[] }[] = [];
      port.events.subscribe((e) => {
        if (e.type === 'data') got.push({ data: [...e.data], errors: e.errors.map((x) => `${x.kind}@${x.position}`) });
      });
      await port.open({ baudRate: 921_600 });
      await port.write(new Uint8Array([0x41]));
      await port.setSignals({ brk: true });
      await new Promise((r) => setTimeout(r, 30));
      await port.setSignals({ brk: false });
      await port.write(new Uint8Array([0x42]));
      await new Promise((r) => setTimeout(r, 60));
      expect(got.flatMap((g) => g.data)).to.deep.equal([0x41, 0x00, 0x42]);
      const flagged = got.flatMap((g, i) => g.errors.map((e) => `${i}:${e}`));
      expect(flagged).to.have.length(1);
      const [chunk, err] = flagged[0]!.split(':') as [string, string];
      expect(err).to.match(/^break@/);
      expect(got[Number(chunk)]!.data[Number(err.split('@')[1])]).to.equal(0x00);
      await port.close();
    } finally {
      await stack.close();
      await lab.close();
    }
  });
});
