// The uevent stream: what udev hears from the kernel. Emitted synchronously at the moment the
// object and its attributes become visible, so that a subscriber can act like a udev rule,
// including writing an attribute from inside its handler.
import { Subject, type Observable } from 'rxjs';

export type UeventAction = 'add' | 'remove' | 'bind' | 'unbind';

export interface Uevent {
  /** Sequence number, strictly increasing per driver model (Linux: SEQNUM). */
  readonly seq: number;
  readonly action: UeventAction;
  readonly kind: 'device' | 'driver';
  readonly bus: string;
  /** The device or driver name. */
  readonly name: string;
  /** Attribute-tree directory of the object, e.g. `bus/usb/drivers/ftdi_sio`. */
  readonly path: string;
  /** On device bind/unbind: the driver. */
  readonly driver?: string;
  /** Bus-specific properties (Linux: the uevent environment, e.g. PRODUCT=403/6001/600). */
  readonly env: Readonly<Record<string, string>>;
}

export class UeventBus {
  private readonly subject = new Subject<Uevent>();
  private seq = 0;
  readonly events: Observable<Uevent> = this.subject.asObservable();

  emit(event: Omit<Uevent, 'seq'>): Uevent {
    const full: Uevent = { ...event, seq: ++this.seq };
    // Subject.next does not throw into the emitter: RxJS reports a subscriber's own error
    // separately, so a faulty udev-like rule cannot break a registration in progress.
    this.subject.next(full);
    return full;
  }
}
