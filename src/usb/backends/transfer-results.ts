// WebUSB transfer results built from bytes, and the text that names a control request in
// messages. Browser-safe: no Node imports.

/** A successful IN result over exactly `bytes` (respecting its offset: never `bytes.buffer` whole). */
export function inOk(bytes: Uint8Array): USBInTransferResult {
  return { status: 'ok', data: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

export function inStatus(status: 'stall' | 'babble'): USBInTransferResult {
  return { status, data: new DataView(new ArrayBuffer(0)) };
}

export function outResult(status: USBTransferStatus, bytesWritten: number): USBOutTransferResult {
  return { status, bytesWritten };
}

/** Any BufferSource as a Uint8Array view (no copy). */
export function toBytes(data: BufferSource | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

export function describeSetup(setup: USBControlTransferParameters): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return (
    `${setup.requestType}/${setup.recipient} request 0x${hex(setup.request, 2)} ` +
    `value 0x${hex(setup.value, 4)} index 0x${hex(setup.index, 4)}`
  );
}
