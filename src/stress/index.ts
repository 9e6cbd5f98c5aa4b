// The stress harness as a library: runStress, and the pieces a lab or a test may want (schedule,
// clock, hubs, reports). The command line is in ./cli.ts (registerStressCommand), kept out of
// here so that importing the library does not load commander and cli-progress.
export { runStress, runOnce, scheduleOf } from './run.ts';
export { INVARIANTS } from './monitor.ts';
export {
  REAL_LAB_RATES,
  type StressOptions,
  type StressResult,
  type StressProgress,
  type StepCounts,
  type ShrinkOptions,
  type ShrinkResult,
  type LaneChange,
} from './options.ts';
export {
  DEFAULT_RATES,
  RATE_KINDS,
  STEP_KINDS,
  ScheduleGenerator,
  StressOptionError,
  parseRates,
  formatRates,
  describeStep,
  type Rates,
  type RateKind,
  type Step,
  type StepKind,
  type Topology,
  type TopologyDongle,
  type TopologyPort,
  type TopologyLink,
  type TopologyDriverSet,
  type NewIdCandidate,
} from './schedule.ts';
export type { Invariant, Violation, TimelineRecord } from './monitor.ts';
export type { Loss, EpochEnd } from './traffic.ts';
export { VirtualClock, ClockError } from './clock.ts';
export { Rng, parseSeed, formatSeed, randomSeed } from './random.ts';
export {
  HubControl,
  HubError,
  ForeignDeviceError,
  parseHubDescriptor,
  parentPort,
  idPathFromSysfs,
  formatHubListing,
  PORT_POWER,
  type HubInfo,
  type HubPortInfo,
  type HubDevice,
  type HubDescriptor,
  type PowerSwitching,
  type PortPowerMethod,
} from './hubs.ts';
export { MockTarget, HubTarget, ourDevicePredicate, type StressLab, type StressDriverSet, type DongleResources, type Target, type HubTargetOptions } from './target.ts';
export { discoverWiring, type WiringOptions } from './wiring.ts';
export { UsbipTarget, REMOTE_FAULTS, type RemoteFault, type RemoteFigures, type UsbipTargetOptions } from './usbip-target.ts';
export { summaryLines, jsonReport, htmlTimeline, writeReports, scheduleFile } from './report.ts';
export { measurePlugToOpen, percentile, PlugToOpenError, type PlugToOpenOptions, type PlugToOpenResult } from './plug-to-open.ts';
