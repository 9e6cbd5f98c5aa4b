// The public API of usb-serial-harness, and nothing else.
import { defaultModel } from './core/model.ts';

export * from './core/index.ts';
export * from './usb/index.ts';
export { defaultUsb } from './usb/default.ts';
export * from './serial/index.ts';
export * from '../drivers/ftdi/index.ts';
export * from '../drivers/pl2303/index.ts';
export { defaultDriverSets } from '../drivers/index.ts';
export * from './stress/index.ts';
export { createStack, type StackOptions, type UsbSerialStack } from './stack.ts';
export * from './capture/index.ts';
export { log, childLog } from './log.ts';

/** The attribute tree of the default driver model (sysfs-like: read, write, list). */
export const attrs = defaultModel.attrs;
/** The uevent stream of the default driver model. */
export const uevents = defaultModel.uevents;
