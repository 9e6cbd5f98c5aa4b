// Noticing a dead link in seconds. USB/IP has no heartbeat of its own (usbip_network.c
// usbip_net_tcp_connect: SO_KEEPALIVE with the kernel's defaults, 2 h + 9 x 75 s, and "TODO:
// write code for heartbeat"), and a silent loss is noticed by TCP only after its retransmission
// timeout (~15 min with tcp_retries2 = 15). The lab probes each exporter instead: a TCP connect
// to usbipd's port, closed at once (usbipd forks a child that reads nothing and exits), and the
// vhci_hcd status files (a cheap read, no subprocess) say which imports the kernel still holds.
import { connect } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import { parseVhciStatus, type VhciPortStatus } from './usbip-output.ts';

/** Whether a TCP connection to address:port opens within timeoutMs. */
export function probeTcp(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on('error', () => undefined);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export type Probe = (address: string, port: number, timeoutMs: number) => Promise<boolean>;

/** Every vhci port's line, from all vhci_hcd status files (vhci_hcd.0/status, status.1, ...). */
export async function readVhciStatus(platform = '/sys/devices/platform'): Promise<VhciPortStatus[]> {
  const dir = `${platform}/vhci_hcd.0`;
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /^status(\.\d+)?$/.test(n));
  } catch {
    return [];
  }
  const texts = await Promise.all(names.map((n) => readFile(`${dir}/${n}`, 'utf8').catch(() => '')));
  return texts.flatMap(parseVhciStatus);
}

export type VhciReader = () => Promise<VhciPortStatus[]>;
