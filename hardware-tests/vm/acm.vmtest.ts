// Part C for CDC-ACM (jobs/gadget-acm.ts, one guest):
// A. our cdc-acm driver against a device nobody here wrote, the guest kernel's own ACM gadget
//    function (configfs `acm`) on dummy_hcd: it takes the function from the kernel's cdc_acm,
//    data crosses byte-exact both ways with the gadget's /dev/ttyGS0, its SET_LINE_CODING and
//    SET_CONTROL_LINE_STATE complete on the bus with our encodings, and DSR/DCD follow ttyGS0
//    being open (the SERIAL_STATE f_acm sends); cdc_acm gets the function back.
// B. the kernel's cdc_acm binds our ACM emulation. FunctionFS refuses CDC functional descriptors
//    (type 0x24), so the bridged device has none; cdc_acm then needs NO_UNION_NORMAL: the
//    'no-union' board carries an ID cdc_acm lists with it (22b8:7000), and the 'uno' board (its
//    functional descriptors left out) gets it through new_id's 5-field form borrowing that
//    entry's driver_info. Both loop back byte-exact through /dev/ttyACM*, the emulation runs the
//    line coding cdc_acm sent, and DTR/RTS reach it (open raises, close drops them) with DTR
//    coming back as DSR/DCD.
import { expect } from 'chai';
import { withGuest } from './runner.ts';
import { logTimings, skipWithoutVm } from './tier.ts';
import { checkBridgedDevice, requestKey, runBridged, type BridgedDeviceRecord } from './bridge-checks.ts';
import { encodeAcmLineCoding } from '../../drivers/cdc-acm/index.ts';
import type { MonControl } from './guest/usbmon.ts';

type Intf = { number: number; driver?: string; tty?: string };
interface Exchange {
  baudRate: number;
  dataBits: 7 | 8;
  parity: 'none' | 'odd' | 'even';
  stopBits: 1 | 2;
  hostToGadget: { sent: number; received: number; firstDiff: number };
  gadgetToHost: { sent: number; received: number; firstDiff: number };
  ms: number;
}
interface BoardSession {
  baudRate: number;
  dataBits: 7 | 8;
  parity: 'none' | 'odd' | 'even';
  stopBits: 1 | 2;
  chip: { line: { baudRate: number; dataBits: number; parity: string; stopBits: number }; lineCoding: string };
  requests: string[];
  modem: { open: { got: { cts: boolean; dsr: boolean; dcd: boolean }; chip: { dtr: boolean; rts: boolean } }; closed: { chip: { dtr: boolean; rts: boolean } } };
  sent: number;
  received: number;
  firstDiff: number;
  ms: number;
}
interface BoardRecord extends BridgedDeviceRecord {
  board: string;
  newId?: string;
  beforeNewId?: { interfaces: Intf[] };
  bound: { idVendor: string; idProduct: string; interfaces: Intf[] };
  probe: string[];
  sessions: BoardSession[];
  refusals: unknown[];
  /** SERIAL_STATE notifications the emulated board sent in the whole run. */
  notifications: number;
}
interface AcmResult {
  error?: string;
  facm?: {
    kernelFirst: { interfaces: Intf[] };
    bound: { sysfs: { interfaces: Intf[] }; claimed: boolean; kernelDriverDetached: boolean; capabilities: number; dataInterface: number };
    exchanges: Exchange[];
    signals: { when: string; dcd: boolean; dsr: boolean; cts: boolean }[];
    released: { interfaces?: Intf[]; error?: string };
  };
  boards?: BoardRecord[];
  usbmon: ({ controls: MonControl[]; lines: number } | undefined)[];
}

const what = (s: { baudRate: number; dataBits: number; parity: string; stopBits: number }) => `${s.baudRate} ${s.dataBits}${s.parity[0]!.toUpperCase()}${s.stopBits}`;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('VM: CDC-ACM: our driver on the kernel f_acm gadget; the kernel cdc_acm on our emulation (dummy_hcd)', function () {
  this.timeout(300_000);
  skipWithoutVm();

  let run: Awaited<ReturnType<typeof withGuest>>;
  let r: AcmResult;
  before(async function () {
    run = await runBridged('CDC-ACM', () => withGuest({ job: 'hardware-tests/vm/jobs/gadget-acm.ts', timeoutMs: 240_000 }), (x) => ((x.result as AcmResult | undefined)?.usbmon ?? []).map((usbmon) => ({ usbmon })));
    logTimings('CDC-ACM', run);
    r = run.result as AcmResult;
  });

  it('our cdc-acm takes the kernel f_acm function from cdc_acm: byte-exact both ways with ttyGS0, line coding and DTR/RTS complete on the bus, DSR/DCD follow ttyGS0, and cdc_acm gets it back', () => {
    expect([0, 137], `job exit status\n${run.jobLog.slice(-3000)}`).to.include(run.status);
    expect(r.error, 'job error').to.equal(undefined);
    const a = r.facm!;
    expect(a.kernelFirst.interfaces.map((i) => i.driver), "the kernel's cdc_acm had both interfaces first").to.deep.equal(['cdc_acm', 'cdc_acm']);
    expect(a.bound.sysfs.interfaces.map((i) => i.driver), 'both interfaces taken from cdc_acm').to.deep.equal(['usbfs', 'usbfs']);
    expect(a.bound.claimed && a.bound.kernelDriverDetached).to.equal(true);
    expect(a.bound.dataInterface).to.equal(1);
    expect(a.bound.capabilities, "f_acm's ACM bmCapabilities (line requests, no break)").to.equal(0x02);
    for (const x of a.exchanges) {
      expect(x.hostToGadget, `${what(x)}: ours → ttyGS0`).to.deep.equal({ sent: x.hostToGadget.sent, received: x.hostToGadget.sent, firstDiff: -1 });
      expect(x.gadgetToHost, `${what(x)}: ttyGS0 → ours`).to.deep.equal({ sent: x.gadgetToHost.sent, received: x.gadgetToHost.sent, firstDiff: -1 });
      console.log(`      [vm] f_acm ${what(x)}: ${x.hostToGadget.sent} bytes each way byte-exact (${x.ms} ms)`);
    }
    // What f_acm takes: our SET_LINE_CODING per setting and SET_CONTROL_LINE_STATE complete (status 0) on the bus.
    const controls = r.usbmon[0]!.controls;
    const classReqs = controls.filter((c) => (c.bmRequestType & 0x60) === 0x20);
    expect(classReqs.filter((c) => c.status !== 0).map(requestKey), 'class requests f_acm refused').to.deep.equal([]);
    for (const x of a.exchanges) {
      const coding = hex(encodeAcmLineCoding({ baudRate: x.baudRate, dataBits: x.dataBits, parity: x.parity, stopBits: x.stopBits }));
      expect(classReqs.some((c) => c.bRequest === 0x20 && c.data === coding), `${what(x)}: SET_LINE_CODING ${coding} on the bus`).to.equal(true);
    }
    expect(classReqs.some((c) => c.bRequest === 0x22 && c.wValue === 0x0003), 'SET_CONTROL_LINE_STATE DTR|RTS (open)').to.equal(true);
    expect(classReqs.some((c) => c.bRequest === 0x22 && c.wValue === 0x0002), 'SET_CONTROL_LINE_STATE RTS only').to.equal(true);
    const sig = Object.fromEntries(a.signals.map((s) => [s.when, { dcd: s.dcd, dsr: s.dsr }]));
    expect(sig, 'DCD/DSR from SERIAL_STATE follow ttyGS0 being open').to.deep.equal({
      'ttyGS closed': { dcd: false, dsr: false },
      'ttyGS open': { dcd: true, dsr: true },
      'ttyGS closed again': { dcd: false, dsr: false },
    });
    expect(a.released.error, 'cdc_acm back').to.equal(undefined);
    expect(a.released.interfaces?.map((i) => i.driver), 'cdc_acm back on both interfaces').to.deep.equal(['cdc_acm', 'cdc_acm']);
    expect(a.released.interfaces?.[0]?.tty).to.match(/^ttyACM\d+$/);
  });

  for (const [i, board] of (['no-union', 'uno'] as const).entries()) {
    const how = board === 'no-union' ? 'by its ID entry (22b8:7000, NO_UNION_NORMAL)' : 'through new_id "2341 0043 2 22b8 7000" (NO_UNION_NORMAL borrowed), its functional descriptors left out';
    // The 'no-union' board reports DSR/DCD in SERIAL_STATE; the Uno, like its real 16U2 firmware
    // (Arduino-usbserial), sends none, so the kernel's cdc_acm reads DSR/DCD 0 whatever DTR does.
    const lines = board === 'uno' ? 'no SERIAL_STATE from the Uno: the kernel reads DSR/DCD 0, as our driver does' : 'DTR comes back as DSR/DCD';
    it(`the kernel cdc_acm binds our '${board}' emulation ${how}; ttyACM loops back byte-exact, the emulation runs the line coding cdc_acm sent, DTR/RTS reach it; ${lines}`, () => {
      expect(r.error, 'job error').to.equal(undefined);
      const b = r.boards![i]!;
      console.log(`      [vm] ${board}: ${checkBridgedDevice(board, { ...b, usbmon: r.usbmon[i + 1] })}`);
      expect(b.refusals, 'requests the emulation refused').to.deep.equal([]);
      if (board === 'uno') expect(b.notifications, 'SERIAL_STATE notifications the Uno sent').to.equal(0);
      else expect(b.notifications, 'SERIAL_STATE notifications the board sent').to.be.above(0);
      if (board === 'uno') {
        expect(b.newId).to.equal('2341 0043 2 22b8 7000');
        expect(b.beforeNewId?.interfaces.map((x) => x.driver), 'without functional descriptors the class entry does not bind it').to.deep.equal([undefined, undefined]);
      } else expect(b.newId).to.equal(undefined);
      expect(b.bound.interfaces.map((x) => x.driver), 'cdc_acm on both interfaces').to.deep.equal(['cdc_acm', 'cdc_acm']);
      // acm_probe's 9600 8N1.
      expect(b.probe.map((l) => l.replace(/: .*/, '')), "cdc_acm's probe").to.deep.equal([`21/20 v0000 i0000 l7 [${hex(encodeAcmLineCoding({ baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 }))}]`]);
      for (const s of b.sessions) {
        const label = `${board} ${what(s)}`;
        expect(s.received, `${label}: bytes back`).to.equal(s.sent);
        expect(s.firstDiff, `${label}: byte-exact`).to.equal(-1);
        expect(s.chip.lineCoding, `${label}: the line coding the emulation holds = encodeAcmLineCoding`).to.equal(hex(encodeAcmLineCoding(s)));
        expect(s.chip.line, `${label}: what the emulated UART runs`).to.deep.equal({ baudRate: s.baudRate, dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits });
        // Open raises DTR|RTS, the plug loops DTR to DSR+DCD, the emulation reports them in
        // SERIAL_STATE (not the Uno); cdc_acm reports CTS always (acm_tty_tiocmget). Close drops
        // DTR|RTS (HUPCL).
        expect(s.modem.open.chip, `${label}: DTR/RTS at the emulation while open`).to.deep.equal({ dtr: true, rts: true });
        const reported = board !== 'uno';
        expect(s.modem.open.got, `${label}: TIOCMGET while open`).to.deep.equal({ cts: true, dsr: reported, dcd: reported });
        expect(s.modem.closed.chip, `${label}: DTR/RTS at the emulation after close`).to.deep.equal({ dtr: false, rts: false });
        console.log(`      [vm] ${label}: ${s.sent} bytes byte-exact; the emulation runs ${what(s.chip.line)} (line coding ${s.chip.lineCoding}) (${s.ms} ms)`);
      }
    });
  }
});
