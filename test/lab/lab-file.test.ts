// The lab description: what it accepts, the field it names when it does not, and that no input
// makes it throw anything but LabFileError.
import { expect } from 'chai';
import fc from 'fast-check';
import { DEFAULT_HEARTBEAT, LabFileError, parseLabFile } from '../../src/lab/index.ts';

const good = {
  hosts: [
    { name: 'rack1', address: '10.0.0.5', dongles: [{ busid: '1-1.2' }, { serial: 'FT5XK2', name: 'gps' }], hubs: [{ busid: '1-1' }], exporter: { via: ['ssh', 'root@10.0.0.5'] } },
    { name: 'rack2', address: 'lab-b.example.org', port: 3241, dongles: [{ busid: '2-3' }] },
  ],
  heartbeat: { intervalMs: 250 },
};

function fieldOf(doc: unknown): string {
  try {
    parseLabFile(JSON.stringify(doc));
  } catch (err) {
    expect(err).to.be.instanceOf(LabFileError);
    return (err as LabFileError).field;
  }
  throw new Error('parsed');
}

describe('lab: the lab file', () => {
  it('reads hosts, dongles by bus ID and by serial number, hubs, the exporter prefix and the heartbeat', () => {
    const lab = parseLabFile(JSON.stringify(good));
    expect(lab.hosts.map((h) => [h.name, h.address, h.port])).to.deep.equal([
      ['rack1', '10.0.0.5', 3240],
      ['rack2', 'lab-b.example.org', 3241],
    ]);
    expect(lab.hosts[0]!.dongles).to.deep.equal([
      { name: 'rack1/1-1.2', host: 'rack1', busid: '1-1.2' },
      { name: 'gps', host: 'rack1', serial: 'FT5XK2' },
    ]);
    expect(lab.hosts[0]!.hubs).to.deep.equal([{ name: 'rack1/hub-1-1', host: 'rack1', busid: '1-1' }]);
    expect(lab.hosts[0]!.exporterVia).to.deep.equal(['ssh', 'root@10.0.0.5']);
    expect(lab.hosts[1]!.exporterVia).to.equal(undefined);
    expect(lab.heartbeat).to.deep.equal({ ...DEFAULT_HEARTBEAT, intervalMs: 250 });
  });

  it('names the bad field', () => {
    const h0 = good.hosts[0]!;
    const cases: [unknown, string][] = [
      [{}, 'hosts'],
      [{ hosts: [] }, 'hosts'],
      [{ hosts: {} }, 'hosts'],
      [{ hosts: [{ ...h0, name: 'a b' }] }, 'hosts[0].name'],
      [{ hosts: [h0, { ...good.hosts[1], name: 'rack1' }] }, 'hosts[1].name'],
      [{ hosts: [{ ...h0, address: 'x;rm -rf /' }] }, 'hosts[0].address'],
      [{ hosts: [{ ...h0, address: undefined }] }, 'hosts[0].address'],
      [{ hosts: [{ ...h0, port: 70000 }] }, 'hosts[0].port'],
      [{ hosts: [{ ...h0, port: 3240.5 }] }, 'hosts[0].port'],
      [{ hosts: [{ ...h0, dongles: [{ busid: '1-1.2', serial: 'X' }] }] }, 'hosts[0].dongles[0]'],
      [{ hosts: [{ ...h0, dongles: [{}] }] }, 'hosts[0].dongles[0]'],
      [{ hosts: [{ ...h0, dongles: [{ busid: 'usb1' }] }] }, 'hosts[0].dongles[0].busid'],
      [{ hosts: [{ ...h0, dongles: [{ busid: '1-1' }, { busid: '1-1' }] }] }, 'hosts[0].dongles[1].busid'],
      [{ hosts: [{ ...h0, dongles: [{ busid: '1-1', colour: 'red' }] }] }, 'hosts[0].dongles[0].colour'],
      [{ hosts: [{ ...h0, dongels: [] }] }, 'hosts[0].dongels'],
      [{ hosts: [{ ...h0, dongles: [{ serial: 'has space' }] }] }, 'hosts[0].dongles[0].serial'],
      [{ hosts: [{ ...h0, exporter: undefined }] }, 'hosts[0].exporter'],
      [{ hosts: [{ ...h0, exporter: { via: 'ssh root@x' } }] }, 'hosts[0].exporter.via'],
      [{ hosts: [{ ...h0, hubs: [{ name: 'h' }] }] }, 'hosts[0].hubs[0].busid'],
      [{ hosts: [{ name: 'x', address: '1.2.3.4' }] }, 'hosts[0]'],
      [{ hosts: [h0, { name: 'y', address: '10.0.0.5', dongles: [{ busid: '1-1' }] }] }, 'hosts[1].address'],
      [{ hosts: [h0, { name: 'y', address: '10.0.0.6', dongles: [{ busid: '1-1', name: 'gps' }] }] }, 'hosts[1].dongles[0].name'],
      [{ ...good, heartbeat: { misses: 0 } }, 'heartbeat.misses'],
      [{ ...good, heartbeat: { every: 1 } }, 'heartbeat.every'],
      [{ ...good, extra: true }, 'extra'],
    ];
    for (const [doc, field] of cases) expect(fieldOf(doc), JSON.stringify(doc)).to.equal(field);
  });

  it('says so when the text is not JSON, or not an object', () => {
    for (const text of ['', '{', 'hosts: []', '[]', 'null', '42']) {
      expect(() => parseLabFile(text, 'lab.json')).to.throw(LabFileError, /^lab\.json: /);
    }
  });

  it('never throws anything but LabFileError, whatever the input (property)', () => {
    const check = (text: string) => {
      try {
        parseLabFile(text);
      } catch (err) {
        if (!(err instanceof LabFileError)) throw err;
      }
    };
    fc.assert(fc.property(fc.json(), check), { numRuns: 500 });
    // Mutations of a good file: a field replaced by any JSON value.
    const paths = [['hosts'], ['hosts', 0], ['hosts', 0, 'name'], ['hosts', 0, 'address'], ['hosts', 0, 'port'], ['hosts', 0, 'dongles'], ['hosts', 0, 'dongles', 0], ['hosts', 0, 'dongles', 0, 'busid'], ['hosts', 0, 'hubs', 0], ['hosts', 0, 'exporter', 'via'], ['heartbeat'], ['heartbeat', 'intervalMs']];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue(), (path, value) => {
        const doc = JSON.parse(JSON.stringify(good)) as Record<string | number, unknown>;
        let at: Record<string | number, unknown> = doc;
        for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
        at[path[path.length - 1]!] = value;
        check(JSON.stringify(doc));
      }),
      { numRuns: 500 },
    );
  });
});
