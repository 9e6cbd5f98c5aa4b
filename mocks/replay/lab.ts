// A replayed capture on a mock host of its own: the device a capture recorded, ready to plug,
// with the diff of what was sent to it. The CLI's `replay` command and the tests start here.
import { mockFtdiFromDescriptor, MockUsbDevice, MockUsbHost, pl2303FromDescriptor, type DeviceSpec, type MockBehaviour } from '../index.ts';
import type { UsbmonEvent } from '../../src/capture/usbmon.ts';
import type { HostBackend } from '../../src/usb/host.ts';
import { ReplayBehaviour } from './behaviour.ts';
import { formatDiff, type ReplayDiff } from './diff.ts';
import { recordedDeviceSpec } from './descriptors.ts';
import { pickRecordedDevice, recordedDevices, ReplayCaptureError, type RecordedDevice } from './session.ts';

export interface ReplayOptions {
  /** Which recorded device, as "bus:device"; default the first one with descriptors (not a root hub). */
  device?: string;
  /**
   * Who answers requests the capture lacks: a chip emulation, 'chip' (the FTDI or PL2303
   * emulation the recorded descriptor names), or 'stall' (logged; the default).
   */
  fallback?: MockBehaviour | 'stall' | 'chip';
  compareStandard?: boolean;
}

export class ReplayLab {
  readonly host = new MockUsbHost();
  /** A replay answers as fast as the capture allows: its line is never paced at a baud rate. */
  readonly pacing = false;
  readonly device: MockUsbDevice;
  readonly behaviour: ReplayBehaviour;
  readonly recorded: RecordedDevice;

  constructor(events: readonly UsbmonEvent[], options: ReplayOptions = {}) {
    this.recorded = pickRecordedDevice(recordedDevices(events), options.device);
    const spec = recordedDeviceSpec(this.recorded);
    const fallback = options.fallback === 'chip' ? chipFor(spec) : options.fallback;
    this.behaviour = new ReplayBehaviour(this.recorded, {
      ...(fallback ? { fallback } : {}),
      ...(options.compareStandard !== undefined ? { compareStandard: options.compareStandard } : {}),
    });
    this.device = new MockUsbDevice(spec, this.behaviour);
  }

  get backend(): HostBackend {
    return this.host;
  }

  /** "bus:device" of the recorded device and its VID:PID. */
  get description(): string {
    const h = (n: number) => n.toString(16).padStart(4, '0');
    return `device ${this.recorded.bus}:${this.recorded.device} (${h(this.device.vendorId)}:${h(this.device.productId)} bcdDevice ${h(this.device.descriptor.bcdDevice)})`;
  }

  dongles(): string[] {
    return ['replay'];
  }
  plugAll(): void {
    this.plug('replay');
  }
  plug(_name: string): void {
    if (!this.device.plugged) this.host.plug(this.device);
  }
  unplug(_name: string): void {
    if (this.device.plugged) this.host.unplug(this.device);
  }
  isPlugged(_name: string): boolean {
    return this.device.plugged;
  }
  flush(): Promise<void> {
    return this.host.flush();
  }
  diff(): ReplayDiff {
    return this.behaviour.diff();
  }
  /** The diff as text lines (formatDiff). */
  diffLines(): string[] {
    return formatDiff(this.diff());
  }
  /** Bulk/interrupt OUT data the recorded host wrote on the OUT endpoints of one interface, in order. */
  recordedWrites(interfaceNumber: number): Uint8Array[] {
    const eps = (this.device.configurations[0]?.interfaces.find((i) => i.interfaceNumber === interfaceNumber)?.alternates[0]?.endpoints ?? [])
      .filter((e) => e.direction === 'out')
      .map((e) => e.endpointNumber);
    return eps.flatMap((ep) => this.behaviour.recordedOutData(ep));
  }
  async close(): Promise<void> {
    this.host.unplugAll();
    await this.host.flush();
    await this.host.close();
  }
}

/** The chip emulation for a recorded FTDI (by bcdDevice) or PL2303 (by its IDs and bcdUSB/bcdDevice). */
export function chipFor(spec: DeviceSpec): MockBehaviour {
  const id = `${spec.idVendor.toString(16).padStart(4, '0')}:${spec.idProduct.toString(16).padStart(4, '0')}`;
  try {
    if (spec.idVendor === 0x0403) return mockFtdiFromDescriptor(spec).chip;
    return pl2303FromDescriptor(spec).chip;
  } catch (err) {
    throw new ReplayCaptureError(`no chip emulation fits the recorded device ${id}: ${(err as Error).message}`);
  }
}

/** Builds the replay of a capture's events (read the file with readUsbmonEvents from src/capture). */
export function createReplayLab(events: readonly UsbmonEvent[], options: ReplayOptions = {}): ReplayLab {
  return new ReplayLab(events, options);
}
