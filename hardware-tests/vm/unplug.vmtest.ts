// (e) The failure paths for real: QMP device_del in the middle of a read and of a write on our
// FTDI port. The user sees PortDisconnectedError (ENODEV) — as the disconnect event, and from
// the cut-short write with how many bytes went out (which the host-side peer confirms) — and
// nothing is left: no claim, no open handle, no ttyUSB minor, no bus node, no live resource.
import { expect } from 'chai';
import { withGuest } from './runner.ts';
import { sinkPeer } from './peers.ts';
import { jobFailed, logTimings, skipWithoutVm } from './tier.ts';

interface ErrorInfo {
  class?: string;
  name?: string;
  code?: string;
  message?: string;
  bytesWritten?: number;
}
interface Left {
  msUntilOffBus: number;
  portsBound: number;
  minorsInUse: number;
  serialDevices: number;
  interfaceClaimed: boolean;
  deviceOpened: boolean;
  openCount: number;
  deviceOnBus: boolean;
  interfaceOnBus: boolean;
  portState: string;
  portGone: boolean;
}
interface Result {
  midRead: { disconnectEvent: boolean; msFromDeviceDeleted: number; error: ErrorInfo; events: string[]; eventsCompleted: boolean; writeAfter: ErrorInfo; openAfter: ErrorInfo; closeAfter: { ok?: boolean }; left: Left };
  midWrite: { bytesWrittenAtUnplug: number; outcome: ErrorInfo & { resolved?: number; pending?: boolean }; statsBytesWritten: number; disconnectError: ErrorInfo; events: string[]; drainAfter: { ok?: boolean }; writeAfter: ErrorInfo; left: Left };
  unhandled: string[];
  activeResources: string[];
}

function nothingLeft(left: Left, what: string): void {
  expect(left, what).to.deep.include({
    portsBound: 0,
    minorsInUse: 0,
    serialDevices: 0,
    interfaceClaimed: false,
    deviceOpened: false,
    openCount: 0,
    deviceOnBus: false,
    interfaceOnBus: false,
    portState: 'closed',
    portGone: true,
  });
}

const disconnected = (e: ErrorInfo) => expect(e).to.deep.include({ class: 'PortDisconnectedError', code: 'ENODEV' });

describe('VM: unplug in the middle of a read and of a write', function () {
  this.timeout(300_000);
  skipWithoutVm();
  const results: Partial<Record<'libusb' | 'nusb', Result>> = {};

  for (const backend of ['libusb', 'nusb'] as const) {
    it(`${backend}: the user sees PortDisconnectedError, the write says how far it got, nothing is left`, async () => {
      const run = await withGuest({ devices: [{ id: 'ftdi' }], job: 'hardware-tests/vm/jobs/unplug.ts', env: { VM_BACKEND: backend }, timeoutMs: 240_000 }, async (guest) =>
        sinkPeer(await guest.serial('ftdi')),
      );
      logTimings(`unplug (${backend})`, run);
      if (run.status !== 0) throw jobFailed('unplug job', run);
      const r = run.result as Result;
      results[backend] = r;

      // Mid-read: the port's disconnect event, then close; later calls refuse with the same error.
      expect(r.midRead.disconnectEvent, 'disconnect event within 10 s of device_del').to.equal(true);
      disconnected(r.midRead.error);
      expect(r.midRead.events).to.deep.equal(['open', 'disconnect', 'close']);
      expect(r.midRead.eventsCompleted, 'the events Observable completes').to.equal(true);
      disconnected(r.midRead.writeAfter);
      disconnected(r.midRead.openAfter);
      expect(r.midRead.closeAfter.ok, 'close() after an unplug is harmless').to.equal(true);
      nothingLeft(r.midRead.left, 'after the mid-read unplug');

      // Mid-write: the write rejects with how many bytes the chip took; the far end got them all.
      expect(r.midWrite.outcome.pending, 'the write settled').to.not.equal(true);
      disconnected(r.midWrite.outcome);
      const went = r.midWrite.outcome.bytesWritten!;
      expect(went).to.be.at.least(r.midWrite.bytesWrittenAtUnplug);
      expect(went).to.equal(r.midWrite.statsBytesWritten);
      expect(r.midWrite.outcome.message).to.include(`after ${went} bytes`);
      expect(run.value.bytes, 'bytes the host-side peer received vs bytesWritten').to.be.at.least(went);
      expect(run.value.bytes - went, 'the peer got at most one chunk more than reported').to.be.at.most(16 * 1024);
      disconnected(r.midWrite.disconnectError);
      expect(r.midWrite.events).to.deep.equal(['open', 'disconnect', 'close']);
      expect(r.midWrite.drainAfter.ok, 'drain() after the failed write resolves').to.equal(true);
      disconnected(r.midWrite.writeAfter);
      nothingLeft(r.midWrite.left, 'after the mid-write unplug');

      // The process has nothing left that would keep it alive.
      expect(r.activeResources, 'active resources after cleanup').to.deep.equal([]);
      console.log(
        `      [vm] ${backend}: disconnect seen ${r.midRead.msFromDeviceDeleted} ms after DEVICE_DELETED; off the bus after ${r.midRead.left.msUntilOffBus} ms; write cut at ${went} of 8 MiB, peer got ${run.value.bytes}`,
      );
    });

    it(`${backend}: no unhandled rejection when the device goes mid-transfer`, function () {
      const r = results[backend];
      if (!r) this.skip(); // the test above did not get a result
      expect(r!.unhandled).to.deep.equal([]);
    });
  }
});
