// Loading a native package at run time only: the backends' modules stay loadable in a browser
// bundle, and the native binary is touched only when a libusb or nusb backend is created.

/**
 * Imports a package by a name bundlers do not follow (the native packages must never be pulled
 * into a browser bundle), and that stays out of the static import graph.
 */
export function importNative(specifier: string): Promise<unknown> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
}
