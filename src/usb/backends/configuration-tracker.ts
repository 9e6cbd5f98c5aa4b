// A device's configurations as WebUSB shows them, plus the state that changes while it is open
// (active configuration, claimed interfaces, selected alternates). Browser-safe.

/**
 * Holds a device's descriptors (as plain WebUSB-shaped objects) plus what changes while it is
 * open: the active configuration, claimed interfaces, selected alternates. The views it hands
 * out stay the same objects until that state changes, as in browsers.
 */
export class ConfigurationTracker {
  private active: number | null;
  private readonly claimed = new Set<number>();
  private readonly alternates = new Map<number, number>();
  private view: { configuration: USBConfiguration | null; configurations: USBConfiguration[] } | null =
    null;

  constructor(
    private readonly descriptors: readonly USBConfiguration[],
    activeConfigurationValue: number | null,
  ) {
    this.active = activeConfigurationValue;
  }

  get activeValue(): number | null {
    return this.active;
  }

  get configuration(): USBConfiguration | null {
    return this.build().configuration;
  }

  get configurations(): USBConfiguration[] {
    return this.build().configurations;
  }

  hasConfiguration(value: number): boolean {
    return this.descriptors.some((c) => c.configurationValue === value);
  }

  /** The active configuration's interface descriptor, or undefined. */
  interfaceDescriptor(interfaceNumber: number): USBInterface | undefined {
    const cfg = this.descriptors.find((c) => c.configurationValue === this.active);
    return cfg?.interfaces.find((i) => i.interfaceNumber === interfaceNumber);
  }

  selectConfiguration(value: number): void {
    if (this.active === value) return;
    this.active = value;
    this.claimed.clear();
    this.alternates.clear();
    this.view = null;
  }

  claim(interfaceNumber: number): void {
    this.claimed.add(interfaceNumber);
    this.view = null;
  }

  release(interfaceNumber: number): void {
    this.claimed.delete(interfaceNumber);
    this.alternates.delete(interfaceNumber);
    this.view = null;
  }

  /** Forgets claims and alternates (device closed). */
  reset(): void {
    this.claimed.clear();
    this.alternates.clear();
    this.view = null;
  }

  isClaimed(interfaceNumber: number): boolean {
    return this.claimed.has(interfaceNumber);
  }

  claimedInterfaces(): number[] {
    return [...this.claimed];
  }

  selectAlternate(interfaceNumber: number, alternateSetting: number): void {
    this.alternates.set(interfaceNumber, alternateSetting);
    this.view = null;
  }

  /** The endpoint with this number and direction in a claimed interface's selected alternate. */
  findEndpoint(
    direction: USBDirection,
    endpointNumber: number,
  ): { interfaceNumber: number; endpoint: USBEndpoint } | undefined {
    const cfg = this.configuration;
    if (!cfg) return undefined;
    for (const iface of cfg.interfaces) {
      if (!iface.claimed) continue;
      const endpoint = iface.alternate.endpoints.find(
        (e) => e.endpointNumber === endpointNumber && e.direction === direction,
      );
      if (endpoint) return { interfaceNumber: iface.interfaceNumber, endpoint };
    }
    return undefined;
  }

  private build(): { configuration: USBConfiguration | null; configurations: USBConfiguration[] } {
    if (this.view) return this.view;
    const configurations = this.descriptors.map((cfg) => {
      if (cfg.configurationValue !== this.active) return cfg;
      const interfaces = cfg.interfaces.map((iface) => {
        const altSetting = this.alternates.get(iface.interfaceNumber);
        const alternate =
          (altSetting !== undefined &&
            iface.alternates.find((a) => a.alternateSetting === altSetting)) ||
          iface.alternate;
        const claimed = this.claimed.has(iface.interfaceNumber);
        if (!claimed && alternate === iface.alternate) return iface;
        return { ...iface, alternate, claimed };
      });
      return { ...cfg, interfaces };
    });
    const configuration = configurations.find((c) => c.configurationValue === this.active) ?? null;
    this.view = { configuration, configurations };
    return this.view;
  }
}
