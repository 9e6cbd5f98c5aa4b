// A sysfs-like attribute tree: directories and attribute files, read / write / list.
// Reads and writes answer with a result value, never by throwing: a write made from inside a
// uevent handler must not throw into the code that emitted the event.
import { AttrError, CoreError } from './errors.ts';

export interface Attribute {
  /** Produces the file's text; absent: the attribute is write-only. */
  show?: () => string | Promise<string>;
  /** Consumes written text; absent: read-only. May return a text answer. */
  store?: (value: string) => void | string | Promise<void | string>;
}

export type AttrResult =
  | { readonly ok: true; readonly path: string; readonly value: string }
  | { readonly ok: false; readonly path: string; readonly error: AttrError };

interface Dir {
  readonly kind: 'dir';
  readonly children: Map<string, Dir | Leaf>;
}
interface Leaf {
  readonly kind: 'attr';
  readonly attr: Attribute;
}

function split(path: string): string[] {
  return path.split('/').filter((p) => p.length > 0);
}

export class AttributeTree {
  private readonly root: Dir = { kind: 'dir', children: new Map() };

  /** Adds an attribute file, creating parent directories. A taken name is refused (EEXIST). */
  add(path: string, attr: Attribute): void {
    const parts = split(path);
    const name = parts.pop();
    if (!name) throw new AttrError('EINVAL', path, `attribute path '${path}' is empty`);
    const dir = this.mkdirs(parts, path);
    if (dir.children.has(name)) {
      throw new AttrError('EEXIST', path, `attribute '${path}' already exists`);
    }
    dir.children.set(name, { kind: 'attr', attr });
  }

  /** Creates a directory (and its parents); an existing directory is fine. */
  addDir(path: string): void {
    this.mkdirs(split(path), path);
  }

  /** Removes a file or a whole directory; removing what is not there is a no-op. */
  remove(path: string): void {
    const parts = split(path);
    const name = parts.pop();
    if (!name) return;
    const dir = this.lookupDir(parts);
    dir?.children.delete(name);
  }

  has(path: string): boolean {
    return this.lookup(split(path)) !== undefined;
  }

  /** Names in a directory, sorted; subdirectories end with '/'. Unknown path: []. */
  list(path = ''): string[] {
    const node = this.lookup(split(path));
    if (!node || node.kind !== 'dir') return [];
    return [...node.children.entries()]
      .map(([name, n]) => (n.kind === 'dir' ? `${name}/` : name))
      .sort();
  }

  async read(path: string): Promise<AttrResult> {
    const node = this.lookup(split(path));
    if (!node) return fail(path, new AttrError('ENOENT', path, `no attribute '${path}'`));
    if (node.kind === 'dir') return fail(path, new AttrError('EINVAL', path, `'${path}' is a directory`));
    if (!node.attr.show) return fail(path, new AttrError('EACCES', path, `'${path}' is write-only`));
    try {
      return { ok: true, path, value: await node.attr.show() };
    } catch (err) {
      return fail(path, toAttrError(path, err));
    }
  }

  async write(path: string, value: string): Promise<AttrResult> {
    const node = this.lookup(split(path));
    if (!node) return fail(path, new AttrError('ENOENT', path, `no attribute '${path}'`));
    if (node.kind === 'dir') return fail(path, new AttrError('EINVAL', path, `'${path}' is a directory`));
    if (!node.attr.store) return fail(path, new AttrError('EACCES', path, `'${path}' is read-only`));
    try {
      const answer = await node.attr.store(value);
      return { ok: true, path, value: answer ?? value };
    } catch (err) {
      return fail(path, toAttrError(path, err));
    }
  }

  private mkdirs(parts: string[], path: string): Dir {
    let dir = this.root;
    for (const p of parts) {
      const next = dir.children.get(p);
      if (next?.kind === 'attr') throw new AttrError('EEXIST', path, `'${p}' in '${path}' is a file`);
      if (next) {
        dir = next;
      } else {
        const made: Dir = { kind: 'dir', children: new Map() };
        dir.children.set(p, made);
        dir = made;
      }
    }
    return dir;
  }

  private lookupDir(parts: string[]): Dir | undefined {
    const node = this.lookup(parts);
    return node?.kind === 'dir' ? node : undefined;
  }

  private lookup(parts: string[]): Dir | Leaf | undefined {
    let node: Dir | Leaf = this.root;
    for (const p of parts) {
      if (node.kind !== 'dir') return undefined;
      const next: Dir | Leaf | undefined = node.children.get(p);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }
}

function fail(path: string, error: AttrError): AttrResult {
  return { ok: false, path, error };
}

function toAttrError(path: string, err: unknown): AttrError {
  if (err instanceof AttrError) return err;
  if (err instanceof CoreError) return new AttrError(err.code, path, `${path}: ${err.message}`, { cause: err });
  const msg = err instanceof Error ? err.message : String(err);
  return new AttrError('EINVAL', path, `${path}: ${msg}`, { cause: err });
}
