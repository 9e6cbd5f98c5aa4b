// The layering rule: nothing in src/ or drivers/ imports mocks/ (the emulated lab is a test and
// demo dependency; the package's runtime must not pull it in). A static scan of every import and
// export specifier, static or dynamic, resolved against the importing file.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const mocks = join(root, 'mocks') + sep;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.[cm]?[jt]s$/.test(e.name) ? [path] : [];
  });
}

/** Every module specifier in a source text: `import … from 'x'`, `export … from 'x'`, `import('x')`, `import 'x'`. */
export function specifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [/\b(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\bimport\s+['"]([^'"]+)['"]/g];
  for (const p of patterns) for (const m of text.matchAll(p)) found.push(m[1]!);
  return found;
}

function mockImports(file: string): string[] {
  return specifiers(readFileSync(file, 'utf8'))
    .filter((s) => s.startsWith('.'))
    .filter((s) => (resolve(dirname(file), s) + sep).startsWith(mocks))
    .map((s) => `${relative(root, file)} imports ${s}`);
}

describe('layering', () => {
  it('finds static, re-export, side-effect and dynamic specifiers', () => {
    const text = [
      "import { a } from '../mocks/a.ts';",
      "import type {\n  B,\n} from '../../mocks/b.ts';",
      "export { c } from './c.ts';",
      "import './side.ts';",
      "const d = await import('../mocks/d.ts');",
    ].join('\n');
    expect(specifiers(text).sort()).to.deep.equal(['../../mocks/b.ts', '../mocks/a.ts', '../mocks/d.ts', './c.ts', './side.ts']);
  });

  for (const layer of ['src', 'drivers']) {
    it(`nothing under ${layer}/ imports mocks/`, () => {
      const files = sources(join(root, layer));
      expect(files.length).to.be.greaterThan(0);
      expect(files.flatMap(mockImports)).to.deep.equal([]);
    });
  }
});
