// What every command starts from: a usb-serial stack (src/stack.ts) on real USB (the `usb`
// package) or on the built-in mock lab (--mock-lab), with the default driver sets registered.
import { createHostBackend, NoUsbSubsystemError, type HostBackend, type HostBackendName, type UsbSerialDriverSet } from '../index.ts';
import { createStack, type UsbSerialStack } from '../stack.ts';
import { CliError, EXIT } from './errors.ts';

/** The part of the mock lab the CLI needs (mocks/lab.ts provides it). */
export interface CliLab {
  readonly backend: HostBackend;
  /** Whether the emulated UARTs run at their baud rates (else as fast as their FIFOs drain). */
  readonly pacing: boolean;
  /** Plugs every dongle (wired as the lab describes). */
  plugAll(): void;
  /** Dongle names, and plugging them one by one (monitor --churn, the demo). */
  dongles(): string[];
  plug(name: string): void;
  unplug(name: string): void;
  isPlugged(name: string): boolean;
  /** Waits until plug/unplug events were delivered. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface ContextOptions {
  mockLab: boolean;
  /** Mock lab: pace the emulated UARTs at their baud rates. */
  paced?: boolean;
  backend: HostBackendName;
  /** Register the drivers (default true; `monitor --no-drivers` shows bare hotplug). */
  drivers?: boolean;
}

export interface CliContext extends UsbSerialStack {
  readonly lab: CliLab | undefined;
}

/** What the program composes the context from: the driver list and the mock lab. */
export interface ContextDeps {
  driverSets(): UsbSerialDriverSet[];
  createLab(options: { pacing: boolean }): CliLab;
  /** Wraps the backend before the stack attaches it (--capture records through it). */
  wrapBackend?: (backend: HostBackend) => HostBackend;
}

export async function openContext(options: ContextOptions, deps: ContextDeps): Promise<CliContext> {
  const lab = options.mockLab ? deps.createLab({ pacing: options.paced ?? false }) : undefined;
  let stack: UsbSerialStack;
  try {
    const raw = lab ? lab.backend : await createHostBackend(options.backend);
    const host = deps.wrapBackend ? deps.wrapBackend(raw) : raw;
    lab?.plugAll();
    await lab?.flush();
    stack = await createStack({ host, driverSets: options.drivers === false ? [] : deps.driverSets(), closeHost: !lab });
  } catch (err) {
    await lab?.close();
    throw noUsb(err);
  }
  return {
    ...stack,
    lab,
    async close() {
      await stack.close();
      await lab?.close();
    },
  };
}

function noUsb(err: unknown): unknown {
  if (err instanceof NoUsbSubsystemError) return new CliError(err.message, EXIT.noUsb);
  return err;
}
