/**
 * A small glob matcher for the CLI's file selection (Node 20 has no stable `path.matchesGlob`).
 *
 * Syntax, matched against forward-slash paths relative to the run's root:
 * - `*` any characters within one path segment; `?` one character (neither matches `/`)
 * - `**` as a whole segment: zero or more segments (`src/**\/*.ts` matches `src/a.ts` and `src/x/y/a.ts`);
 *   elsewhere (`a**b`) it behaves like `*`
 * - `[abc]`, `[a-z]`, `[!a]` / `[^a]` one character of (or not of) a set; never `/`
 * - `{a,b}` alternatives, nestable, each may hold wildcards; without a comma the braces are literal
 * - `\` quotes the next character
 *
 * Caveats: dotfiles are matched like any other name (as VS Code's globs do); matching is case-sensitive;
 * an unclosed `[` or `{` is taken literally.
 */

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

/** Compiles a glob (see the module comment for the syntax) into an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  try {
    return new RegExp(`^${translate(glob, true, true)}$`);
  } catch {
    // Only a bad range such as `[z-a]` gets here.
    throw new SyntaxError(`Invalid glob "${glob}": check its [...] ranges`);
  }
}

/** Returns a matcher for one glob; `path` must be relative, with forward slashes. */
export function globMatcher(glob: string): (path: string) => boolean {
  const re = globToRegExp(glob);
  return (path) => re.test(path);
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * Translates `glob` to RegExp source. `startsSegment` / `endsSegment` tell whether the text just before
 * and just after `glob` is a segment boundary (the string's edge or a `/`), which decides whether a `**`
 * at either end of a brace alternative is a globstar.
 */
function translate(glob: string, startsSegment: boolean, endsSegment: boolean): string {
  let out = '';
  let i = 0;
  const n = glob.length;
  while (i < n) {
    const c = glob[i];
    if (c === '\\') {
      out += escapeRegExp(i + 1 < n ? glob[i + 1] : '\\');
      i += 2;
    } else if (c === '*') {
      let j = i;
      while (j < n && glob[j] === '*') j++;
      const atStart = i === 0 ? startsSegment : glob[i - 1] === '/';
      const atEnd = j === n ? endsSegment : glob[j] === '/';
      if (j - i >= 2 && atStart && atEnd) {
        if (j < n) {
          // `**/`: any number of whole segments, including none.
          out += '(?:.*/)?';
          j++;
        } else {
          out += '.*';
        }
      } else {
        out += '[^/]*';
      }
      i = j;
    } else if (c === '?') {
      out += '[^/]';
      i++;
    } else if (c === '[') {
      const cls = parseClass(glob, i);
      if (cls) {
        out += cls.source;
        i = cls.end;
      } else {
        out += '\\[';
        i++;
      }
    } else if (c === '{') {
      const alts = parseBraces(glob, i);
      if (alts) {
        const atStart = i === 0 ? startsSegment : glob[i - 1] === '/';
        const atEnd = alts.end === n ? endsSegment : glob[alts.end] === '/';
        out += `(?:${alts.items.map((a) => translate(a, atStart, atEnd)).join('|')})`;
        i = alts.end;
      } else {
        out += '\\{';
        i++;
      }
    } else {
      out += escapeRegExp(c);
      i++;
    }
  }
  return out;
}

/** Parses `[...]` starting at `start`; null if it is not closed. A class never matches `/`. */
function parseClass(glob: string, start: number): { source: string; end: number } | null {
  let i = start + 1;
  let negate = false;
  if (glob[i] === '!' || glob[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  while (i < glob.length) {
    const c = glob[i];
    if (c === ']' && !first) {
      return { source: negate ? `[^/${body}]` : `(?!/)[${body}]`, end: i + 1 };
    }
    first = false;
    if (c === '\\' && i + 1 < glob.length) {
      body += quoteInClass(glob[i + 1], true);
      i += 2;
    } else {
      body += quoteInClass(c, false);
      i++;
    }
  }
  return null;
}

/** Quotes what is special inside a RegExp class; an unquoted `-` keeps its range meaning. */
function quoteInClass(c: string, quoted: boolean): string {
  return c === '\\' || c === ']' || c === '[' || c === '^' || (quoted && c === '-') ? `\\${c}` : c;
}

/** Parses `{a,b,...}` starting at `start` into its top-level alternatives; null if unclosed or comma-free. */
function parseBraces(glob: string, start: number): { items: string[]; end: number } | null {
  const items: string[] = [];
  let depth = 0;
  let from = start + 1;
  for (let i = start + 1; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\') {
      i++;
    } else if (c === '[') {
      // A `,` or `}` inside a character class belongs to the class.
      const cls = parseClass(glob, i);
      if (cls) i = cls.end - 1;
    } else if (c === '{') {
      depth++;
    } else if (c === '}') {
      if (depth === 0) {
        items.push(glob.slice(from, i));
        return items.length > 1 ? { items, end: i + 1 } : null;
      }
      depth--;
    } else if (c === ',' && depth === 0) {
      items.push(glob.slice(from, i));
      from = i + 1;
    }
  }
  return null;
}
