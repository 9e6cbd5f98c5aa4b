// The driver model, with no USB in it.
export { AttributeTree, type Attribute, type AttrResult } from './attrs.ts';
export { driverAttach, bindDeviceDriver, releaseDevice, type ProbeOutcome } from './binding.ts';
export { Bus, type AnyBus, type BusOptions, type BusType } from './bus.ts';
export { Device, type DeviceState } from './device.ts';
export { Driver, type AnyDriver, type DriverMethods, type DriverOptions, type DriverState } from './driver.ts';
export { DynIdList, parseHexFields, type HexField } from './dynids.ts';
export * from './errors.ts';
export {
  inspectBus,
  inspectDriver,
  inspectDriverCounts,
  inspectDynamicIds,
  type BusSnapshot,
  type DriverCounts,
  type DeviceSnapshot,
  type DriverSnapshot,
  type PinSnapshot,
} from './inspect.ts';
export { MatchIndex, WILDCARD_KEY, type MatchKeys } from './match.ts';
export { DriverModel, defaultModel, type DriverModelOptions } from './model.ts';
export { AsyncMutex } from './mutex.ts';
export { DriverPin, getDriver, putDriver } from './pin.ts';
export { UeventBus, type Uevent, type UeventAction } from './uevents.ts';
