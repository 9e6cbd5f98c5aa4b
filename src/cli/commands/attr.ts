// `usb-harness attr list|read|write`: the attribute tree (new_id, bind, unbind, driver_override...).
import type { CliContext } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import type { Output } from '../output.ts';

export async function attrCommand(ctx: CliContext, out: Output, op: string, path: string | undefined, value: string | undefined): Promise<void> {
  const attrs = ctx.model.attrs;
  switch (op) {
    case 'list': {
      const entries = attrs.list(path ?? '');
      if (path && entries.length === 0 && !attrs.has(path)) throw new CliError(`no attribute directory '${path}'`, EXIT.usage);
      if (out.json) out.data({ path: path ?? '', entries });
      else for (const e of entries) out.line(e);
      return;
    }
    case 'read': {
      if (!path) throw new CliError('attr read needs a PATH', EXIT.usage);
      const r = await attrs.read(path);
      if (!r.ok) throw new CliError(`${r.error.code}: ${r.error.message}`, EXIT.usage);
      if (out.json) out.data({ path, value: r.value });
      else out.line(r.value);
      return;
    }
    case 'write': {
      if (!path || value === undefined) throw new CliError('attr write needs a PATH and a VALUE', EXIT.usage);
      const r = await attrs.write(path, value);
      if (!r.ok) throw new CliError(`${r.error.code}: ${r.error.message}`, EXIT.usage);
      if (out.json) out.data({ path, written: value, ok: true });
      else out.line(`wrote '${value}' to ${path}`);
      return;
    }
    default:
      throw new CliError(`attr takes list, read or write, not '${op}'`, EXIT.usage);
  }
}
