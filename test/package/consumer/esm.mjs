// A plain Node ESM consumer of the installed package: the root, every subpath, and the stack
// loop-back from usage.cjs. Prints one JSON line for the test to check.
import * as api from 'usb-serial-harness';
import * as mocks from 'usb-serial-harness/mocks';
import { createWebSerial } from 'usb-serial-harness/web-serial';
import { DEFAULT_RATES, formatRates, parseRates } from 'usb-serial-harness/stress';
import pkg from 'usb-serial-harness/package.json' with { type: 'json' };
import usage from './usage.cjs';

const { ports, usb, close } = await usage.loopBackThroughFtdiAndPl2303(api, mocks);
const serial = createWebSerial({ usb });
const webSerialPorts = (await serial.getPorts()).map((p) => p.getInfo());
await serial.dispose();
await close();

console.log(JSON.stringify({
  system: 'esm',
  version: pkg.version,
  ports,
  webSerialPorts,
  rates: formatRates(parseRates('plug=3', DEFAULT_RATES)),
  names: { root: Object.keys(api).sort(), mocks: Object.keys(mocks).sort() },
}));
