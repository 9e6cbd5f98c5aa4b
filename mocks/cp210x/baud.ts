// How an emulated CP210x port turns the SET_BAUDRATE value into the rate its UART runs. Written
// from the vendor's documents, not from the driver's encoder:
// - AN205 Table 1 (CP2101/2/3, also CP2108 and CP2105's SCI below 1 M): the request falls into one
//   of the rows below, each given as its lowest request, and runs that row's rate. Requests under
//   57 or above 1 053 257 are "undefined" in AN205: the emulation refuses them.
// - The CP2104/CP2102N/CP2105-ECI datasheets' generator (and CP2108 from 1 M up): clock divider =
//   24 MHz / (prescale * request) rounded to the nearest integer, prescale 4 at 365 baud and below,
//   and the UART runs 24 MHz / (prescale * divider).
import type { Cp210xPortModel } from './parts.ts';

/** AN205 rows as [lowest request, UART rate], highest first. */
const AN205_ROWS: readonly (readonly [number, number])[] = [
  [670_255, 921_600], [567_139, 576_000], [491_521, 500_000], [273_067, 460_800], [254_235, 256_000],
  [237_833, 250_000], [156_869, 230_400], [129_348, 153_600], [117_029, 128_000], [77_609, 115_200],
  [64_112, 76_800], [58_054, 64_000], [56_281, 57_600], [51_559, 56_000], [38_602, 51_200],
  [28_913, 38_400], [19_251, 28_800], [16_063, 19_200], [14_429, 16_000], [9_613, 14_400],
  [7_208, 9_600], [4_804, 7_200], [4_001, 4_800], [2_401, 4_000], [1_801, 2_400],
  [1_201, 1_800], [601, 1_200], [301, 600], [57, 300],
];
const AN205_TOP = 1_053_257;

export class Cp210xChipBaudRejected extends Error {
  override readonly name = 'Cp210xChipBaudRejected';
}

function an205(request: number): number {
  if (request > AN205_TOP) throw new Cp210xChipBaudRejected(`${request} baud is above AN205's defined range (${AN205_TOP})`);
  for (const [low, rate] of AN205_ROWS) if (request >= low) return rate;
  throw new Cp210xChipBaudRejected(`${request} baud is below AN205's defined range (57)`);
}

function divider(request: number): number {
  const prescale = request <= 365 ? 4 : 1;
  const div = Math.round(24_000_000 / (prescale * request));
  return 24_000_000 / (prescale * div);
}

/** The rate a port runs for a SET_BAUDRATE value; a value the part cannot run is refused. */
export function cp210xChipBaud(model: Cp210xPortModel, request: number): number {
  if (!Number.isInteger(request) || request <= 0) throw new Cp210xChipBaudRejected(`baud value ${request} is not a rate`);
  const rate = model.generator === 'divider' || request >= 1_000_000 && model.maxRate > 1_000_000 ? divider(request) : an205(request);
  if (rate < model.minRate * 0.99 || rate > model.maxRate * 1.01) {
    throw new Cp210xChipBaudRejected(`${request} baud runs ${rate.toFixed(1)}, outside this port's ${model.minRate}-${model.maxRate}`);
  }
  return rate;
}
