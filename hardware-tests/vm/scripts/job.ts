// Runs one guest job by hand and prints its output and timings, e.g.
//   npx tsx hardware-tests/vm/scripts/job.ts hardware-tests/vm/jobs/conformance.ts [KEY=VALUE...]
// Devices: one usb-serial named 'ftdi' unless --devices=id[:serial],... (USB_HARNESS_VM_VERBOSE=1
// streams the job's output as it comes).
import { formatTimings, withGuest, type UsbSerialSpec } from '../runner.ts';

const args = process.argv.slice(2);
const devArg = args.find((a) => a.startsWith('--devices='));
const job = args.find((a) => !a.startsWith('--') && !a.includes('='));
if (!job) throw new Error('usage: job.ts <guest job .ts> [--devices=id[:serial],...] [KEY=VALUE...]');
const env = Object.fromEntries(args.filter((a) => !a.startsWith('--') && a.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const devices: UsbSerialSpec[] = devArg
  ? devArg.slice('--devices='.length).split(',').map((d) => {
      const [id, serial] = d.split(':');
      return { id: id!, ...(serial ? { serial } : {}) };
    })
  : [{ id: 'ftdi' }];
const run = await withGuest({ devices, job, env, timeoutMs: 300_000 });
if (!process.env.USB_HARNESS_VM_VERBOSE) process.stdout.write(run.jobLog);
console.log(`status ${run.status}; ${formatTimings(run.timings)}`);
process.exitCode = run.status;
