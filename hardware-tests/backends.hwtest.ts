// The host-backend conformance suite against the real backends. Not part of `npm test` (mocha's
// default spec glob is test/**/*.test.ts); run it where USB exists, e.g. in the QEMU guest:
//   USB_HARNESS_HW_DEVICE=0403:6001 USB_HARNESS_HW_IDLE_IN=1 npx mocha --no-config \
//     --node-option import=tsx --require test/setup.ts hardware-tests/backends.hwtest.ts
// (see hardware-tests/README.md for all variables).
// Without USB every backend prints one "skipped: ..." line and its tests show as pending.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHostBackend, type HostBackendName } from '../src/usb/backends/select.ts';
import { describeBackendConformance, type ConformanceOptions } from './backend-conformance.ts';
import type { HostDevice } from '../src/usb/host.ts';

const run = promisify(execFile);
const env = process.env;

/** `vvvv:pppp` (hex) → a device picker; unset → device checks skip with a printed reason. */
function pickerFromEnv(spec: string | undefined): ConformanceOptions['pickDevice'] {
  if (!spec) return undefined;
  const m = /^([0-9a-f]{4}):([0-9a-f]{4})$/i.exec(spec.trim());
  if (!m) throw new Error(`USB_HARNESS_HW_DEVICE must be vvvv:pppp in hex, got '${spec}'`);
  const [vid, pid] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
  return (devices: HostDevice[]) => devices.find((d) => d.usb.vendorId === vid && d.usb.productId === pid);
}

/** `requestType/recipient/request[/value[/index]]`, numbers in hex or decimal, or `none`. */
function stallFromEnv(spec: string | undefined): ConformanceOptions['stallRequest'] {
  if (!spec) return undefined;
  if (spec === 'none') return null;
  const [requestType, recipient, request, value = '0', index = '0'] = spec.split('/');
  return {
    requestType: requestType as USBRequestType,
    recipient: recipient as USBRecipient,
    request: Number(request),
    value: Number(value),
    index: Number(index),
  };
}

/** Shell commands that really unplug and re-plug the device (e.g. a port's sysfs `disable`). */
function hotplugFromEnv(): ConformanceOptions['hotplug'] {
  const unplug = env.USB_HARNESS_HW_UNPLUG;
  const plug = env.USB_HARNESS_HW_PLUG;
  if (!unplug || !plug) return undefined;
  return {
    unplug: async () => void (await run('/bin/sh', ['-c', unplug])),
    plug: async () => void (await run('/bin/sh', ['-c', plug])),
    timeoutMs: 10_000,
  };
}

const IN_TIMEOUT_MS = 500;
const idleEp = env.USB_HARNESS_HW_IDLE_IN ? Number(env.USB_HARNESS_HW_IDLE_IN) : undefined;

const options: ConformanceOptions = {
  pickDevice: pickerFromEnv(env.USB_HARNESS_HW_DEVICE),
  interfaceNumber: env.USB_HARNESS_HW_INTERFACE ? Number(env.USB_HARNESS_HW_INTERFACE) : undefined,
  stallRequest: stallFromEnv(env.USB_HARNESS_HW_STALL),
  idleIn: idleEp === undefined ? undefined : { endpointNumber: idleEp, timeoutMs: IN_TIMEOUT_MS },
  hotplug: hotplugFromEnv(),
};

const backends: HostBackendName[] = ['libusb', 'nusb', 'webusb'];
for (const name of backends) {
  describeBackendConformance(
    name,
    // A finite IN timeout on both native backends, so the TimeoutError check can run.
    () => createHostBackend(name, { libusb: { inTimeoutMs: IN_TIMEOUT_MS }, nusb: { inTimeoutMs: IN_TIMEOUT_MS } }),
    options,
  );
}
