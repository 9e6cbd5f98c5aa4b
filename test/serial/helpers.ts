// Serial-driver specs that record their calls, for the usb-serial registration tests.
import type { SerialDriverSpec } from '../../src/serial/index.ts';
import type { UsbDeviceId } from '../../src/usb/ids.ts';

export class SerialCalls {
  readonly calls: string[] = [];
  readonly violations: string[] = [];
  private readonly gone = new Set<string>();
  markDeregistered(names: string[]): void {
    for (const n of names) this.gone.add(n);
  }
  markRegistering(names: string[]): void {
    for (const n of names) this.gone.delete(n);
  }
  record(driver: string, what: string): void {
    this.calls.push(`${driver} ${what}`);
    if (this.gone.has(driver)) this.violations.push(`${driver} ${what} after deregistration resolved`);
  }
  count(pattern: RegExp): number {
    return this.calls.filter((c) => pattern.test(c)).length;
  }
}

export function recordingSpec(name: string, idTable: UsbDeviceId[], calls: SerialCalls, extra: Partial<SerialDriverSpec> = {}): SerialDriverSpec {
  return {
    name,
    idTable,
    probe: (serial) => calls.record(name, `probe ${serial.intf.name}`),
    attach: (serial) => {
      calls.record(name, `attach ${serial.intf.name}`);
      return 1;
    },
    portProbe: (port) => calls.record(name, `portProbe ${port.name}`),
    portRemove: (port) => calls.record(name, `portRemove ${port.name}`),
    disconnect: (serial) => calls.record(name, `disconnect ${serial.intf.name}`),
    release: (serial) => calls.record(name, `release ${serial.intf.name}`),
    ...extra,
  };
}
