// Type-level guarantees: each @ts-expect-error below must meet a real type error, or the
// compiler reports the directive as unused. The first test runs the compiler on this file, so
// mocha alone catches a guarantee that stopped holding (not only `npm run typecheck`).
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import ts from 'typescript';
import { expect } from 'chai';
import { driverAttach, getDriver, putDriver, DriverPin } from '../../src/core/index.ts';
import { CallLog, newToyBus, toyDriver } from './toy-bus.ts';

// Never called: it only has to type-check (or fail to, where marked).
async function wrongUses(): Promise<void> {
  const { bus } = newToyBus('types');
  const drv = toyDriver(bus, 'd', [], new CallLog());

  // @ts-expect-error attaching a driver needs a pin, not the driver itself
  await driverAttach(drv);

  // @ts-expect-error getDriver may return null: the check cannot be forgotten
  await driverAttach(getDriver(drv));

  // @ts-expect-error putDriver takes a pin, and null is not one
  putDriver(getDriver(drv));

  // @ts-expect-error pins are not made by hand (the constructor wants a private token)
  new DriverPin(drv, 'x', Symbol('pin'));

  const pin = getDriver(drv);
  if (pin) {
    await driverAttach(pin); // fine: checked and pinned
    putDriver(pin);
  }
}

describe('core: types', () => {
  it('wrong uses are compile errors: the compiler, run on this file, reports nothing', function () {
    this.timeout(60_000);
    expect(wrongUses).to.be.a('function');
    const file = fileURLToPath(import.meta.url);
    const root = resolve(dirname(file), '../..');
    const configPath = resolve(root, 'tsconfig.json');
    const config = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, root);
    const program = ts.createProgram({ rootNames: [file], options: { ...config.options, noEmit: true } });
    const source = program.getSourceFile(file)!;
    const directives = source.text.split('\n').filter((l) => l.trim().startsWith('// @ts-expect-error')).length;
    expect(directives, '@ts-expect-error directives in wrongUses').to.equal(4);
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    const text = diagnostics.map((d) => `line ${source.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(text).to.deep.equal([]);
  });

  it('a hand-made pin is also refused at run time', () => {
    const { bus } = newToyBus('types-rt');
    const drv = toyDriver(bus, 'd', [], new CallLog());
    expect(() => new (DriverPin as unknown as new (...a: unknown[]) => unknown)(drv, 'x', Symbol('pin'))).to.throw(/getDriver/);
  });
});
