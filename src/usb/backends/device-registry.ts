// The devices a native backend has handed out: one HostDevice per attachment, so getDevices
// and hotplug events hand out the same object until the device leaves.

/** What the registry needs of a backend's HostDevice. */
interface TrackedDevice {
  readonly usb: { markGone(): void; close(): Promise<void> };
}

/**
 * One HostDevice per attachment, keyed by what the native side names an attachment with (libusb:
 * its device object; nusb: its handle), so getDevices and hotplug events hand out the same one.
 */
export class DeviceRegistry<K, D extends TrackedDevice> {
  private readonly known = new Map<K, D>();

  /** The attachment's HostDevice, made by `make` on first sight. */
  get(key: K, make: () => D): D {
    let hd = this.known.get(key);
    if (!hd) {
      hd = make();
      this.known.set(key, hd);
    }
    return hd;
  }

  /** The attachment left: its HostDevice fails what is pending (NotFoundError); undefined if never handed out. */
  remove(key: K): D | undefined {
    const hd = this.known.get(key);
    if (!hd) return undefined;
    this.known.delete(key);
    hd.usb.markGone();
    return hd;
  }

  /** Not watching, a listing is the only news of departures: every attachment not in it left. */
  keepOnly(present: ReadonlySet<K>): void {
    for (const key of [...this.known.keys()]) if (!present.has(key)) this.remove(key);
  }

  /** Closes every device (an open native handle keeps the process alive) and forgets them. */
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.known.values()].map((d) => d.usb.close()));
    this.known.clear();
  }
}
