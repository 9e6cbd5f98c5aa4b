// A CommonJS consumer of the installed package: require() of the root and every subpath (Node
// >= 20.19 loads an ES module graph without top-level await synchronously), and the stack
// loop-back from usage.cjs. Prints one JSON line for the test to check.
'use strict';
const api = require('usb-serial-harness');
const mocks = require('usb-serial-harness/mocks');
const { createWebSerial } = require('usb-serial-harness/web-serial');
const { DEFAULT_RATES, formatRates, parseRates } = require('usb-serial-harness/stress');
const pkg = require('usb-serial-harness/package.json');
const { loopBackThroughFtdiAndPl2303 } = require('./usage.cjs');

(async () => {
  const { ports, usb, close } = await loopBackThroughFtdiAndPl2303(api, mocks);
  const serial = createWebSerial({ usb });
  const webSerialPorts = (await serial.getPorts()).map((p) => p.getInfo());
  await serial.dispose();
  await close();
  console.log(JSON.stringify({
    system: 'cjs',
    version: pkg.version,
    ports,
    webSerialPorts,
    rates: formatRates(parseRates('plug=3', DEFAULT_RATES)),
    names: { root: Object.keys(api).sort(), mocks: Object.keys(mocks).sort() },
  }));
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
