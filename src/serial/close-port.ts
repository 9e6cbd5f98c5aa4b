// Closing a port for the Node stream and the serialport binding: with termios HUPCL semantics
// (`hupcl` false keeps DTR and RTS up, as a tty opened with HUPCL cleared does), and without
// hanging on a write that flow control holds.
import { childLog } from '../log.ts';
import type { UsbSerialPort } from './port.ts';

const log = childLog('serial.close');

/**
 * Closes the port; with writes still pending it first discards what the chip has not sent, so
 * a write held by flow control cannot hold the close.
 */
export async function closeWithHupcl(port: UsbSerialPort, o: { hupcl: boolean; writesPending: boolean }): Promise<void> {
  const closing = port.close({ hupcl: o.hupcl }); // 'closing' at once: no further write chunk starts
  if (o.writesPending && !port.gone) {
    await port.serial.type.spec.port?.purge(port, { rx: false, tx: true }).catch((err: unknown) => log.debug({ err, port: port.name }, 'tx purge at close failed'));
  }
  await closing;
}
