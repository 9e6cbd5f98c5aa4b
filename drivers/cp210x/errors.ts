// The errors the cp210x driver raises beyond the generic layer's.

/** The interface lacks a bulk endpoint the driver needs. */
export class Cp210xEndpointError extends Error {
  override readonly name = 'Cp210xEndpointError';
  constructor(
    readonly interfaceName: string,
    readonly missing: string,
  ) {
    super(`CP210x on ${interfaceName}: required ${missing} endpoint missing`);
  }
}
