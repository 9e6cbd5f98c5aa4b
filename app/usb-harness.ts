// The composition root of the usb-harness command: the command line (src/cli) gets the default
// driver sets (drivers/), the mock lab for --mock-lab and `stress --mock-lab` (mocks/lab.ts), the
// replay device for `replay` (mocks/replay) and the mock-lab demo, all as parameters. This is the
// one place the program joins src/ to mocks/; src/ and drivers/ never import mocks/.
// Loaded by main.ts once the log level is set.
import { defaultDriverSets } from '../drivers/index.ts';
import { createMockLab } from '../mocks/lab.ts';
import { createReplayLab } from '../mocks/replay/index.ts';
import { runCli } from '../src/cli/program.ts';
import { demo } from './demo.ts';

await runCli({
  driverSets: defaultDriverSets,
  // The mock lab gets the same driver sets its dongles are for.
  createLab: (o: { pacing?: boolean } = {}) => createMockLab({ driverSets: defaultDriverSets(), pacing: o.pacing ?? false }),
  createReplay: (events, options) => createReplayLab(events, options),
  demo,
});
