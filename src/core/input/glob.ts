/**
 * Glob matching for the CLI's file selection, by `minimatch` (Node 20 has no stable `path.matchesGlob`).
 *
 * Syntax, matched against forward-slash paths relative to the run's root:
 * - `*` any characters within one path segment; `?` one character (neither matches `/`)
 * - `**` as a whole segment: zero or more segments (`src/**\/*.ts` matches `src/a.ts` and `src/x/y/a.ts`);
 *   elsewhere (`a**b`) it behaves like `*`
 * - `[abc]`, `[a-z]`, `[!a]` / `[^a]` one character of (or not of) a set; never `/`; POSIX classes
 *   such as `[[:alpha:]]`
 * - `{a,b}` alternatives, nestable, each may hold wildcards; `{1..3}` a sequence; without a comma (or
 *   `..`) the braces are literal
 * - `\` quotes the next character
 *
 * Caveats: dotfiles are matched like any other name (as VS Code's globs do); matching is case-sensitive;
 * an unclosed `[` or `{` is taken literally; a leading `!` or `#` and `+(...)`-style groups are plain
 * characters (minimatch's negation, comments and extglobs are off).
 */
import { Minimatch, type MinimatchOptions } from 'minimatch';

const OPTIONS: MinimatchOptions = {
  dot: true,
  nonegate: true,
  nocomment: true,
  noext: true,
  // Paths here always use `/`, and `\` always quotes, whatever the platform.
  platform: 'linux',
  // The glob as written: no rewriting of `..` or `**` segments.
  optimizationLevel: 0,
};

/** Characters that make an input a glob rather than a path. */
const MAGIC = /[*?[{]/;

/** True if `input` contains a glob character (`*`, `?`, `[`, `{`). */
export function isGlob(input: string): boolean {
  return MAGIC.test(input);
}

/**
 * Splits a forward-slash glob into its literal leading folder and the rest, so that a walk can start
 * there: `src/**\/*.ts` -> `{ base: 'src', rest: '**\/*.ts' }`; `*.md` -> `{ base: '', rest: '*.md' }`.
 * A segment holding a backslash counts as magic, so escapes stay in `rest`.
 */
export function splitGlobBase(glob: string): { base: string; rest: string } {
  const segments = glob.split('/');
  let i = 0;
  while (i < segments.length - 1 && !isGlob(segments[i]) && !segments[i].includes('\\')) i++;
  // `/*.ts`: the literal part is the file system's root, which joins to ''.
  const base = segments.slice(0, i).join('/') || (i > 0 ? '/' : '');
  return { base, rest: segments.slice(i).join('/') };
}

/**
 * Returns a matcher for one glob (see the module comment for the syntax); `path` must be relative, with
 * forward slashes. Throws a SyntaxError naming the glob for a range written backwards, such as `[z-a]`.
 */
export function globMatcher(glob: string): (path: string) => boolean {
  const mm = new Minimatch(quoteClasses(glob), OPTIONS);
  return (path) => mm.match(path);
}

/**
 * Two rules minimatch does not keep on its own, applied to each `[...]` class of `glob`: a class is one
 * unit inside `{...}` (its `,`, `{` and `}` are quoted, since braces are expanded before classes are
 * read), and a range written backwards is an error (minimatch drops it silently, so that `[z-a]` would
 * match nothing).
 */
function quoteClasses(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    if (glob[i] === '\\') {
      out += glob.slice(i, i + 2);
      i++;
    } else if (glob[i] === '[') {
      const cls = readClass(glob, i);
      out += cls ? cls.quoted : '[';
      if (cls) i = cls.end - 1;
    } else {
      out += glob[i];
    }
  }
  return out;
}

/**
 * Reads the class at `start` as minimatch does (`]` first in the body is a member, `\\` quotes, `x-y` is
 * a range unless the `-` is last); null if it is not closed (then `[` is literal).
 */
function readClass(glob: string, start: number): { quoted: string; end: number } | null {
  const n = glob.length;
  let i = start + 1;
  let quoted = '[';
  if (glob[i] === '!' || glob[i] === '^') quoted += glob[i++];
  const body = i;
  let rangeFrom: string | undefined;
  while (i < n) {
    const c = glob[i];
    if (c === ']' && i > body) return { quoted: `${quoted}]`, end: i + 1 };
    const posix = /^\[:[a-z]+:\]/.exec(glob.slice(i, i + 12));
    if (posix) {
      if (rangeFrom !== undefined) throw invalidRange(glob, `${rangeFrom}-${posix[0]}`);
      quoted += posix[0];
      i += posix[0].length;
      continue;
    }
    const escaped = c === '\\' && i + 1 < n;
    const ch = escaped ? glob[i + 1] : c;
    i += escaped ? 2 : 1;
    quoted += escaped || ch === ',' || ch === '{' || ch === '}' ? `\\${ch}` : ch;
    if (rangeFrom !== undefined) {
      if (ch < rangeFrom) throw invalidRange(glob, `${rangeFrom}-${ch}`);
      rangeFrom = undefined;
    } else if (glob[i] === '-' && i + 1 < n && glob[i + 1] !== ']') {
      rangeFrom = ch;
      quoted += '-';
      i++;
    }
  }
  return null;
}

function invalidRange(glob: string, range: string): SyntaxError {
  return new SyntaxError(`Invalid glob "${glob}": the range ${range} in its [...] is backwards; write it from low to high`);
}

/**
 * What a typed file selection means (#18), the same in every front end: a folder's path means everything
 * under it (`src`, `src/`, `./src` → `src/**`; `.` → `**`); a glob, or a path that is no folder, stays as
 * typed (trimmed). `isFolder` answers for a `/`-separated path relative to the root (no trailing `/`);
 * it is not asked about a glob, nor about a path written with a trailing `/` (a folder by its spelling).
 */
export async function selectionGlob(input: string, isFolder: (relative: string) => Promise<boolean> | boolean): Promise<string> {
  const typed = input.trim();
  if (!typed || isGlob(typed) || typed.includes('\\')) return typed;
  const slashed = typed.endsWith('/');
  const rel = typed.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (rel === '' || rel === '.') return '**';
  if (slashed || (await isFolder(rel))) return `${rel}/**`;
  return typed;
}
