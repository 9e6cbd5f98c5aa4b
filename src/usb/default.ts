// The default USB subsystem, on the default driver model (what the package-root attrs and
// uevents show). Made on first use so that importing the package starts nothing.
import { UsbSubsystem } from './subsystem.ts';

let instance: UsbSubsystem | null = null;

export function defaultUsb(): UsbSubsystem {
  instance ??= new UsbSubsystem();
  return instance;
}
