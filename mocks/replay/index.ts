// Replay: a capture (usbmon events) as an emulated device, and the diff of what was sent to it.
export { ReplayBehaviour } from './behaviour.ts';
export type { ReplayBehaviourOptions, UnrecordedRequest } from './behaviour.ts';
export { diffOps, formatDiff, describeOp } from './diff.ts';
export type { HostOp, DiffEntry, ReplayDiff } from './diff.ts';
export { recordedDeviceSpec, parseConfiguration } from './descriptors.ts';
export { recordedDevices, pickRecordedDevice, descriptorAnswer, ReplayCaptureError } from './session.ts';
export type { RecordedDevice, RecordedTransfer } from './session.ts';
export { ReplayLab, createReplayLab, chipFor } from './lab.ts';
export type { ReplayOptions } from './lab.ts';
