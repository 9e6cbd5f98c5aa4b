// Web Serial events: a SerialPort's parent is its Serial (navigator.serial), so events capture
// and bubble through it as the DOM's dispatch algorithm has it.
import { expect } from 'chai';
import { createWebSerial, SerialConnectionEvent, type Serial, type SerialPort } from '../../src/serial/web-serial.ts';
import { loopLab, type LoopLab } from './fixtures/lab.ts';

const phaseName = ['none', 'capture', 'target', 'bubble'];

describe('serial: Web Serial event propagation (SerialPort -> Serial)', () => {
  let lab: LoopLab;
  let serial: Serial;
  let port: SerialPort;
  let log: string[];
  const rec = (who: string) => (e: Event) => {
    log.push(`${who} ${phaseName[e.eventPhase]} ${e.currentTarget === serial ? 'serial' : e.currentTarget === port ? 'port' : '?'}${e.target === port ? '' : ' (target not the port)'}`);
  };

  beforeEach(async () => {
    lab = await loopLab();
    serial = createWebSerial({ usb: lab.usb });
    await lab.plug();
    [port] = (await serial.getPorts()) as [SerialPort];
    log = [];
  });
  afterEach(async () => {
    await serial.dispose();
    await lab.close();
  });

  it('an event at a port captures through the Serial, runs capturing listeners first at the target, then bubbles to the Serial', () => {
    port.addEventListener('ping', rec('port-bubble'));
    port.addEventListener('ping', rec('port-capture'), { capture: true });
    serial.addEventListener('ping', rec('serial-bubble'));
    serial.addEventListener('ping', rec('serial-capture'), true);
    const ev = new Event('ping', { bubbles: true });
    expect(port.dispatchEvent(ev)).to.equal(true);
    expect(log).to.deep.equal(['serial-capture capture serial', 'port-capture target port', 'port-bubble target port', 'serial-bubble bubble serial']);
    expect(ev.eventPhase).to.equal(0);
    expect(ev.currentTarget).to.equal(null);
    expect(ev.target).to.equal(port);
  });

  it('a non-bubbling event is captured by the Serial but does not bubble to it', () => {
    serial.addEventListener('ping', rec('serial-bubble'));
    serial.addEventListener('ping', rec('serial-capture'), true);
    port.addEventListener('ping', rec('port'));
    port.dispatchEvent(new Event('ping'));
    expect(log).to.deep.equal(['serial-capture capture serial', 'port target port']);
  });

  it('stopPropagation in the Serial capture listener keeps the event from the port', () => {
    serial.addEventListener('ping', (e) => e.stopPropagation(), true);
    serial.addEventListener('ping', rec('serial-capture-2'), true);
    port.addEventListener('ping', rec('port'));
    port.dispatchEvent(new Event('ping', { bubbles: true }));
    expect(log).to.deep.equal(['serial-capture-2 capture serial']); // the rest of that target's listeners still run
  });

  it('cancelBubble = true at the port: the other port listeners run, the Serial does not hear it', () => {
    port.addEventListener('ping', (e) => {
      e.cancelBubble = true;
      expect(e.cancelBubble).to.equal(true);
    });
    port.addEventListener('ping', rec('port-2'));
    serial.addEventListener('ping', rec('serial'));
    const ev = new Event('ping', { bubbles: true });
    port.dispatchEvent(ev);
    expect(log).to.deep.equal(['port-2 target port']);
    expect(ev.cancelBubble).to.equal(false); // the flag is cleared after dispatch
  });

  it('stopImmediatePropagation stops the listeners after it on the same target too', () => {
    port.addEventListener('ping', (e) => e.stopImmediatePropagation());
    port.addEventListener('ping', rec('port-2'));
    serial.addEventListener('ping', rec('serial'));
    port.dispatchEvent(new Event('ping', { bubbles: true }));
    expect(log).to.deep.equal([]);
  });

  it('an event dispatched from a listener propagates fully before the outer dispatch goes on', () => {
    port.addEventListener('outer', () => {
      log.push('outer at port');
      port.dispatchEvent(new Event('inner', { bubbles: true }));
      log.push('outer at port done');
    });
    serial.addEventListener('outer', () => log.push('outer at serial'));
    serial.addEventListener('inner', () => log.push('inner at serial'));
    port.addEventListener('inner', () => log.push('inner at port'));
    port.dispatchEvent(new Event('outer', { bubbles: true }));
    expect(log).to.deep.equal(['outer at port', 'inner at port', 'inner at serial', 'outer at port done', 'outer at serial']);
  });

  it('re-dispatching an event that is being dispatched is an InvalidStateError; a throwing listener does not stop the others', () => {
    let inner: unknown;
    port.addEventListener('ping', (e) => {
      try {
        port.dispatchEvent(e);
      } catch (err) {
        inner = err;
      }
      throw new Error('listener bug');
    });
    serial.addEventListener('ping', rec('serial'));
    port.dispatchEvent(new Event('ping', { bubbles: true }));
    expect((inner as DOMException).name).to.equal('InvalidStateError');
    expect(log).to.deep.equal(['serial bubble serial']);
  });

  it('on<event> attributes: one listener in registration order, replaced in place, removed by null; false cancels a cancelable event', () => {
    port.addEventListener('connect', rec('first'));
    port.onconnect = () => log.push('handler-a');
    port.addEventListener('connect', rec('last'));
    port.onconnect = () => log.push('handler-b'); // keeps its place
    port.dispatchEvent(new Event('connect'));
    expect(log).to.deep.equal(['first target port', 'handler-b', 'last target port']);
    log = [];
    port.onconnect = null;
    expect(port.onconnect).to.equal(null);
    port.dispatchEvent(new Event('connect'));
    expect(log).to.deep.equal(['first target port', 'last target port']);
    serial.ondisconnect = () => false;
    const ev = new Event('disconnect', { bubbles: true, cancelable: true });
    expect(port.dispatchEvent(ev)).to.equal(false);
    expect(ev.defaultPrevented).to.equal(true);
  });

  it('disconnect from an unplug: one event, at the port then bubbling to the Serial, capturable there', async () => {
    serial.addEventListener('disconnect', rec('serial-capture'), { capture: true });
    port.ondisconnect = rec('port');
    serial.ondisconnect = rec('serial');
    const events = new Set<Event>();
    serial.addEventListener('disconnect', (e) => events.add(e), true);
    serial.addEventListener('disconnect', (e) => events.add(e));
    await lab.unplug([...lab.host.devices][0]!.usb);
    expect(log).to.deep.equal(['serial-capture capture serial', 'port target port', 'serial bubble serial']);
    expect(events.size).to.equal(1);
    expect([...events][0]).to.be.instanceOf(SerialConnectionEvent);
  });
});
