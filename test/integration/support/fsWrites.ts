// Records the files the extension writes while a test runs, by wrapping Node's `fs` in the extension
// host (the extension's bundle looks `fs.promises.open` and the like up at call time, so the wrapper
// sees its calls). Only calls made from the extension's own bundle are kept: other extensions share
// the host and the module.
// The module itself (a default import), not esbuild's read-only copy of its properties.
import fs from 'fs';
import * as path from 'path';

const WRITING_PROMISES = ['open', 'writeFile', 'appendFile', 'mkdir', 'rename', 'rm', 'copyFile', 'unlink', 'cp', 'symlink', 'truncate'] as const;
const WRITING_SYNC = ['openSync', 'writeFileSync', 'appendFileSync', 'mkdirSync', 'renameSync', 'rmSync', 'copyFileSync', 'unlinkSync', 'cpSync', 'createWriteStream'] as const;

export interface FsWriteRecorder {
  /** Absolute paths written (or created, renamed to, removed) by the extension, in call order. */
  readonly paths: string[];
  restore(): void;
}

function isWrite(name: string, args: unknown[]): boolean {
  if (name !== 'open' && name !== 'openSync') return true;
  const flags = args[1];
  return typeof flags === 'string' ? /[wa+]/.test(flags) : typeof flags === 'number';
}

/** Starts recording; `bundle` is a path fragment of the extension's code (its dist/extension.js). */
export function recordFsWrites(bundle = `${path.sep}dist${path.sep}extension.js`): FsWriteRecorder {
  const paths: string[] = [];
  const undo: (() => void)[] = [];
  const wrap = (target: Record<string, unknown>, name: string) => {
    const original = target[name];
    if (typeof original !== 'function') return;
    const wrapped = function (this: unknown, ...args: unknown[]) {
      if ((new Error().stack ?? '').includes(bundle) && isWrite(name, args)) {
        // rename(from, to) and copyFile(from, to) write their second argument; the first only moves.
        for (const a of name.startsWith('rename') || name.startsWith('copyFile') || name.startsWith('cp') ? args.slice(0, 2) : args.slice(0, 1)) {
          if (typeof a === 'string' || a instanceof URL || Buffer.isBuffer(a)) paths.push(path.resolve(a instanceof URL ? a.pathname : String(a)));
        }
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    target[name] = wrapped;
    undo.push(() => (target[name] = original));
  };
  for (const name of WRITING_PROMISES) wrap(fs.promises as unknown as Record<string, unknown>, name);
  for (const name of WRITING_SYNC) wrap(fs as unknown as Record<string, unknown>, name);
  return {
    paths,
    restore: () => {
      for (const u of undo.reverse()) u();
    },
  };
}

/** Paths of `paths` that are not inside `dir`. */
export function outside(paths: readonly string[], dir: string): string[] {
  return paths.filter((p) => {
    const rel = path.relative(dir, p);
    return rel.startsWith('..') || path.isAbsolute(rel);
  });
}
