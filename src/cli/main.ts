// The usb-harness command line.
import { Command } from 'commander';
import { demoCore } from './demo-core.ts';

const program = new Command();
program.name('usb-harness').description('a userspace USB driver core for USB-serial adapters').showHelpAfterError();

program
  .command('demo')
  .description('a short tour of the driver core: udev-like new_id, pins during unregistration, uevents')
  .action(async () => {
    await demoCore();
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`usb-harness: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
