// Boots a guest with one usb-serial and prints what it sees: a quick check of the runner.
//   npx tsx hardware-tests/vm/scripts/smoke.ts ['shell command']
import { withGuest, formatTimings } from '../runner.ts';

const cmd = process.argv[2] ?? 'uname -r; ls /dev/hvc0 /dev/ttyUSB* /dev/bus/usb/*/*; cat /sys/bus/usb/devices/*/product; ls /sys/bus/usb/drivers/ftdi_sio/; node -e "console.log(process.version)"';
const run = await withGuest({ devices: [{ id: 'ftdi' }], shell: cmd, timeoutMs: 120_000 });
process.stdout.write(run.jobLog);
console.log(`status ${run.status}; ${formatTimings(run.timings)}; guest marks ${JSON.stringify(run.timings.guest)}`);
