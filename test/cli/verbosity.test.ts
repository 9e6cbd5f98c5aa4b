// How loud the command line logs (src/cli/verbosity.ts).
import { expect } from 'chai';
import { cliLogLevel, countVerbose, isVerboseFlag } from '../../src/cli/verbosity.ts';

describe('cli: verbosity', () => {
  it('warn by default; LOG_LEVEL when set; -v flags override it', () => {
    expect(cliLogLevel(['list'], undefined)).to.equal('warn');
    expect(cliLogLevel(['list'], '')).to.equal('warn');
    expect(cliLogLevel(['list'], 'debug')).to.equal('debug');
    expect(cliLogLevel(['-v', 'list'], 'silent')).to.equal('info');
    expect(cliLogLevel(['list', '-vv'], undefined)).to.equal('debug');
    expect(cliLogLevel(['-v', '--verbose', 'list'], undefined)).to.equal('debug');
    expect(cliLogLevel(['-vvv'], undefined)).to.equal('trace');
    expect(cliLogLevel(['-vvvvv'], undefined)).to.equal('trace');
  });

  it('counts -v, -vv and --verbose before a --, and nothing else', () => {
    expect(countVerbose(['-v', '-vv', '--verbose'])).to.equal(4);
    expect(countVerbose(['console', 'ttyUSB0', '--', '-v'])).to.equal(0);
    expect(countVerbose(['--value', '-b', '9600', '-vx', 'v'])).to.equal(0);
    expect(isVerboseFlag('-v')).to.equal(true);
    expect(isVerboseFlag('-')).to.equal(false);
    expect(isVerboseFlag('--verbose=1')).to.equal(false);
  });
});
