import { expect } from 'chai';
import { ConfigurationTracker } from '../../../src/usb/backends/configuration-tracker.ts';

const CONFIG: USBConfiguration = {
  configurationValue: 1,
  configurationName: null,
  interfaces: [0, 1].map((n) => {
    const alt = (s: number): USBAlternateInterface => ({
      alternateSetting: s,
      interfaceClass: 0xff,
      interfaceSubclass: 0,
      interfaceProtocol: 0,
      interfaceName: null,
      endpoints: [{ endpointNumber: n * 2 + 1 + s * 4, direction: 'in', type: 'bulk', packetSize: 64 }],
    });
    return { interfaceNumber: n, alternate: alt(0), alternates: [alt(0), alt(1)], claimed: false };
  }),
};

describe('ConfigurationTracker', () => {
  it('reflects claims and alternates, keeping view identity until a change', () => {
    const t = new ConfigurationTracker([CONFIG], 1);
    const v1 = t.configuration;
    expect(t.configuration).to.equal(v1);
    expect(t.findEndpoint('in', 1)).to.equal(undefined, 'nothing claimed yet');
    t.claim(0);
    expect(t.configuration).to.not.equal(v1);
    expect(t.configuration?.interfaces[0]?.claimed).to.equal(true);
    expect(t.findEndpoint('in', 1)?.interfaceNumber).to.equal(0);
    t.selectAlternate(0, 1);
    expect(t.configuration?.interfaces[0]?.alternate.alternateSetting).to.equal(1);
    expect(t.findEndpoint('in', 1)).to.equal(undefined);
    expect(t.findEndpoint('in', 5)?.interfaceNumber).to.equal(0);
    t.release(0);
    expect(t.configuration?.interfaces[0]?.claimed).to.equal(false);
    expect(t.configuration?.interfaces[0]?.alternate.alternateSetting).to.equal(0);
  });
  it('is unconfigured when no configuration is active', () => {
    const t = new ConfigurationTracker([CONFIG], null);
    expect(t.configuration).to.equal(null);
    expect(t.configurations).to.have.length(1);
    t.selectConfiguration(1);
    expect(t.configuration?.configurationValue).to.equal(1);
  });
});
