// Host-side peers on the UART side of QEMU's usb-serial (the chardev socket).
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';

export interface PeerStats {
  bytes: number;
  sha256(): string;
}

/** Echoes every byte back (the guest's own loopback plug), hashing what passed. */
export function echoPeer(sock: Socket): PeerStats {
  const hash = createHash('sha256');
  let bytes = 0;
  sock.on('data', (d: Buffer) => {
    hash.update(d);
    bytes += d.length;
    // Never pause reading for backpressure: QEMU's usb-serial writes to this socket with a
    // blocking write_all on its main loop, so a paused reader here stalls QEMU, which then stops
    // reading our echo: a deadlock. Node buffers the echo instead.
    sock.write(d);
  });
  sock.on('error', () => undefined);
  let digest: string | undefined;
  return {
    get bytes() {
      return bytes;
    },
    sha256: () => (digest ??= hash.digest('hex')),
  };
}

/** Reads and drops everything (a sink that never slows the guest's writes). */
export function sinkPeer(sock: Socket): { readonly bytes: number } {
  let bytes = 0;
  sock.on('data', (d: Buffer) => (bytes += d.length));
  sock.on('error', () => undefined);
  return {
    get bytes() {
      return bytes;
    },
  };
}
