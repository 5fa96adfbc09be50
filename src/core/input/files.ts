/**
 * Turns the CLI's inputs (files, folders, globs) into the text files of a run: walks folders honouring
 * `.gitignore`, refuses binary, empty, too-large and out-of-root files with a reason, reads the rest.
 * Plain Node (`fs`, `path`): the VS Code adapter has its own selection (vscode/fileSelection.ts).
 * Over 400 lines because the walk, the `.gitignore` stack and the refusals share one `Collector`'s state
 * (root, candidates, skips, the `.gitignore` rules per folder); glob matching lives in glob.ts.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { isUtf8 } from 'buffer';
import ignore from 'ignore';
import { globMatcher, isGlob, splitGlobBase } from './glob';
import { isOutside, relativePathProblem } from '../store/pathGuard';
import type { FileSignature, PlanInput, SourceFile, UnreadFile } from '../plan/types';
import { signatureOf } from '../plan/planIndex';
import { exists, readBytes } from '../../util/fs';
import { setImmediate as nextTurn } from 'timers/promises';
import pLimit from 'p-limit';

export interface CollectOptions {
  /** Inputs are relative to this folder, and so are the output paths (with forward slashes). */
  cwd: string;
  /** Larger files are skipped as 'too-large'. Default 1 MiB (1_048_576). */
  maxFileBytes?: number;
  /** Honour `.gitignore` files while walking folders and globs. Default true. */
  respectGitignore?: boolean;
  signal?: AbortSignal;
  /**
   * Streams each text file here, in order, instead of keeping it in `files` (which is then empty), so
   * that a caller who only needs each text once (the planner) holds one file at a time.
   */
  onFile?: (file: PlanInput) => void | Promise<void>;
  /**
   * Files the caller may know unread (#17: a planner's plan index and plan cache): each file is offered
   * with its signature before it is read; one it answers for is handed to `onFile` in its place,
   * unread. Each file read is told to it with its sha256 and length. Only with `onFile`.
   */
  known?: KnownFiles;
}

/** See `CollectOptions.known`; `root` is the real path of the folder collected (paths are relative to it). */
export interface KnownFiles {
  /** The file as the caller knows it unread, or undefined (it is read). */
  unread(root: string, file: { path: string; signature: FileSignature }): Promise<UnreadFile | undefined>;
  /** A file read and handed on: what it was when stat'ed, the sha256 and the length of its text. */
  read(root: string, file: { path: string; signature: FileSignature; hash: string; chars: number }): void;
}

export type SkipReason = 'binary' | 'too-large' | 'empty' | 'unreadable' | 'outside-root' | 'not-found';

export interface SkippedFile {
  /** Relative to `cwd`, forward slashes; for a glob that matched nothing, the glob. */
  path: string;
  reason: SkipReason;
  /** Short, human, says what to do about it. */
  detail: string;
}

export interface CollectResult {
  /** Sorted by path (code-unit order, so the same on every machine and locale). */
  files: SourceFile[];
  /** Sorted by path. */
  skipped: SkippedFile[];
}

export const DEFAULT_MAX_FILE_BYTES = 1_048_576;

/** Files stat'ed at once while collecting. */
const STAT_CONCURRENCY = 16;
/** Files read ahead of the one handed on, and at most this many bytes of them (one larger file alone). */
const READ_AHEAD_FILES = 8;
const READ_AHEAD_BYTES = 8 * 1024 * 1024;
/** Bytes handed on between two turns of the event loop (decoding and hashing them takes a few ms). */
const YIELD_BYTES = 512 * 1024;
/** How much of a file is searched for a NUL byte, as git and most editors do. */
const SNIFF_BYTES = 8192;

/**
 * Folders never entered while walking. `.git` is the repository's database; `node_modules` is huge and
 * never the user's own text (and usually gitignored anyway, but not always); `.batch-prompt` holds this
 * tool's own runs and cache, which a later run must not send back as input. A file named explicitly
 * inside any of them is still read, and so is a folder named explicitly (the walk starts inside it).
 */
const NEVER_WALKED = new Set(['.git', 'node_modules', '.batch-prompt']);

/** Git's default `core.ignoreCase`: true where the usual file systems are case-insensitive. */
const IGNORE_CASE = process.platform === 'win32' || process.platform === 'darwin';

/** The rules of one `.gitignore`; patterns are relative to `dir`. */
interface Rules {
  dir: string;
  ig: ReturnType<typeof ignore>;
}

/**
 * Collects the text files named by `inputs`: files, folders (walked recursively) and globs (`*?[{`,
 * matched against paths relative to `cwd`; see glob.ts). Files are read a few at a time and
 * handed on in path order.
 *
 * Caveats:
 * - A file named explicitly is read even if gitignored or inside `node_modules`; a folder named
 *   explicitly (or a glob's literal folder) is walked even if gitignored, the rules inside it still apply.
 * - `.gitignore` files from the enclosing repository's top down apply (a nested repository starts
 *   afresh); `.git/info/exclude` and global excludes do not. One difference from git: when a nested
 *   `.gitignore` re-includes a folder an outer one excludes, the outer file's rules are not applied
 *   inside that folder (the `ignore` package cannot match a path apart from its excluded parents).
 * - Directory symlinks met while walking are not followed (no cycles); file symlinks are, but a file
 *   that resolves outside `cwd` is refused as 'outside-root'. A file reached twice (two inputs, or a
 *   link and its target) is read once, under its own path rather than the link's.
 * - Throws the signal's reason when aborted, a SyntaxError for a malformed glob, and whatever
 *   `realpath(cwd)` throws when `cwd` is missing. Per-file problems never throw: they land in `skipped`.
 */
export async function collectFiles(inputs: string[], options: CollectOptions): Promise<CollectResult> {
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (!(maxFileBytes > 0)) throw new RangeError(`maxFileBytes must be a positive number, got ${maxFileBytes}`);
  const { signal } = options;
  signal?.throwIfAborted();
  const collector = new Collector(options.cwd, await fs.promises.realpath(options.cwd), options.respectGitignore !== false, signal);
  await collector.resolveInputs(inputs);
  return collector.read(maxFileBytes, options.onFile, options.onFile ? options.known : undefined);
}

/**
 * Keeps the files (paths relative to `cwd`) that no `.gitignore` excludes, by the same rules as the
 * folder walk (a file inside an excluded folder is excluded; `.git` and `node_modules` folders too).
 * For callers that list files another way, such as VS Code's `findFiles`.
 */
export async function filterGitignored(cwd: string, relativePaths: readonly string[]): Promise<string[]> {
  const collector = new Collector(cwd, await fs.promises.realpath(cwd), true, undefined);
  const kept: string[] = [];
  for (const rel of relativePaths) {
    if (!(await collector.isExcluded(path.join(collector.rootPath, rel), false))) kept.push(rel);
  }
  return kept;
}

class Collector {
  /** Candidate files by relative path: absolute path under `root`. */
  private readonly candidates = new Map<string, string>();
  /** The lstat of each regular file named as an input (not a link), by absolute path, taken while resolving the inputs. */
  private readonly lstats = new Map<string, fs.Stats>();
  private readonly skipped = new Map<string, SkippedFile>();
  private readonly rulesCache = new Map<string, Promise<Rules[]>>();
  private topPromise: Promise<string> | undefined;

  /**
   * @param cwd the folder as given, which inputs are relative to
   * @param root its real path: walks and containment checks use it, so symlinked temp folders work
   */
  constructor(
    private readonly cwd: string,
    private readonly root: string,
    private readonly useGitignore: boolean,
    private readonly signal: AbortSignal | undefined,
  ) {}

  get rootPath(): string {
    return this.root;
  }

  private readonly excludedDirs = new Map<string, Promise<boolean>>();

  /** Whether `.gitignore` rules (or a never-walked folder) exclude `abs`, looking at every folder above it. */
  isExcluded(abs: string, isDir: boolean): Promise<boolean> {
    const check = async (): Promise<boolean> => {
      const parent = path.dirname(abs);
      if (parent === abs || !abs.startsWith(this.root) || abs === this.root) return false;
      if (isDir && NEVER_WALKED.has(path.basename(abs))) return true;
      if (parent !== this.root && parent.startsWith(this.root) && (await this.isExcluded(parent, true))) return true;
      return isIgnored(await this.rulesInside(parent), abs, isDir);
    };
    if (!isDir) return check();
    let known = this.excludedDirs.get(abs);
    if (!known) {
      known = check();
      this.excludedDirs.set(abs, known);
    }
    return known;
  }

  async resolveInputs(inputs: string[]): Promise<void> {
    // Globs sharing a literal folder share one walk.
    const globsByBase = new Map<string, { glob: string; matches: (path: string) => boolean; matched: boolean }[]>();
    // The inputs' stats several at a time (a long list of files from the editor), then taken in order;
    // each path is worked out inside its task, so a long list never holds the thread in one go.
    const limit = pLimit(STAT_CONCURRENCY);
    const looked = await Promise.all(inputs.map((input) => limit(async () => {
      const rel = path.relative(this.cwd, path.resolve(this.cwd, input));
      if (isOutside(rel)) return { input, rel };
      const abs = path.join(this.root, rel);
      // lstat first: a file named that is no link needs no second look when read (`lstats`).
      return fs.promises.lstat(abs).then(async (link) => {
        if (link.isFile()) this.lstats.set(abs, link);
        return { input, rel, abs, stat: link.isSymbolicLink() ? await fs.promises.stat(abs) : link };
      }).catch((error: unknown) => ({ input, rel, abs, stat: undefined, error }));
    })));
    for (const found of looked) {
      this.signal?.throwIfAborted();
      const { input, rel } = found;
      if (!('abs' in found)) {
        this.skip(toPosix(rel), 'outside-root', this.outsideDetail());
        continue;
      }
      const { abs, stat, error } = found as { abs: string; stat: fs.Stats | undefined; error?: unknown };
      if (stat?.isDirectory()) {
        await this.walk(abs, (file) => this.candidates.set(this.relative(file), file));
      } else if (stat) {
        this.candidates.set(toPosix(rel), abs);
      } else if (isGlob(input)) {
        // A literal path such as `app/[id].ts` that exists was taken above; only now is it a glob.
        const glob = this.normaliseGlob(input);
        if (glob === undefined) {
          this.skip(toPosix(input), 'outside-root', this.outsideDetail());
          continue;
        }
        const base = splitGlobBase(glob).base;
        const group = globsByBase.get(base) ?? [];
        group.push({ glob, matches: globMatcher(glob), matched: false });
        globsByBase.set(base, group);
      } else if (isMissing(error)) {
        this.skip(toPosix(rel), 'not-found', 'no such file or folder; check the path (it is relative to the working folder)');
      } else {
        this.skip(toPosix(rel), 'unreadable', `cannot access it (${errorCode(error)})`);
      }
    }
    for (const [base, globs] of globsByBase) {
      const baseAbs = path.join(this.root, base);
      const isDir = await fs.promises.stat(baseAbs).then((s) => s.isDirectory(), () => false);
      if (isDir) {
        await this.walk(baseAbs, (file) => {
          const rel = this.relative(file);
          let hit = false;
          for (const g of globs) {
            if (g.matches(rel)) hit = g.matched = true;
          }
          if (hit) this.candidates.set(rel, file);
        });
      }
      for (const g of globs) {
        if (!g.matched) {
          this.skip(g.glob, 'not-found', 'no files match this glob (gitignored files and .git, node_modules folders are not searched)');
        }
      }
    }
  }

  /** Reads the candidates a few at a time, handing them on in path order. */
  async read(maxFileBytes: number, onFile?: (file: PlanInput) => void | Promise<void>, known?: KnownFiles): Promise<CollectResult> {
    type Entry = { rel: string; abs: string; real: string; size: number; signature: FileSignature };
    // Stats and real paths several at a time (one at a time, each is a thread-pool round trip), kept in path order.
    const limit = pLimit(STAT_CONCURRENCY);
    const looked = await Promise.all([...this.candidates.keys()].sort(compare).map((rel) => limit(async (): Promise<Entry | undefined> => {
      this.signal?.throwIfAborted();
      const abs = this.candidates.get(rel) as string;
      // A name the run folder could not hold safely (a backslash in a Linux file name): refused by the path guard on resume.
      const problem = relativePathProblem(rel);
      if (problem) {
        this.skip(rel, 'unreadable', `its path ${problem}, which a run folder cannot record; rename it to include it`);
        return undefined;
      }
      try {
        const link = this.lstats.get(abs) ?? (await fs.promises.lstat(abs));
        const stat = link.isSymbolicLink() ? await fs.promises.stat(abs) : link;
        if (!stat.isFile()) {
          this.skip(rel, 'unreadable', 'not a regular file (a device, socket or pipe)');
          return undefined;
        }
        // A file that is no link is where its folder really is: one realpath per folder, not per file
        // (each walks every component of the path; a warm plan of thousands of files paid for it).
        const real = link.isSymbolicLink() ? await fs.promises.realpath(abs) : path.join(await this.realFolder(path.dirname(abs)), path.basename(abs));
        if (isOutside(path.relative(this.root, real))) {
          this.skip(rel, 'outside-root', `is a link to ${real}, ${this.outsideDetail()}`);
          return undefined;
        }
        return { rel, abs, real, size: stat.size, signature: signatureOf(stat) };
      } catch (e) {
        if (isMissing(e)) this.skip(rel, 'not-found', 'no such file (a broken link, or deleted while collecting)');
        else this.skip(rel, 'unreadable', `cannot access it (${errorCode(e)})`);
        return undefined;
      }
    })));
    this.signal?.throwIfAborted();
    const entries = looked.filter((e): e is Entry => e !== undefined);

    // One read per real file; its own path wins over a link's, else the first path in order.
    const chosen = new Map<string, Entry>();
    for (const e of entries) {
      const prev = chosen.get(e.real);
      if (!prev || (prev.abs !== prev.real && e.abs === e.real)) chosen.set(e.real, e);
    }
    const keep = new Set(chosen.values());
    const toRead: Entry[] = [];
    for (const e of entries) {
      if (!keep.has(e)) continue;
      if (e.size > maxFileBytes) this.skip(e.rel, 'too-large', tooLargeDetail(e.size, maxFileBytes));
      else toRead.push(e);
    }

    // Reads run a few files ahead of the one handed on (bounded in files and bytes); files are handed on in order.
    type Read = { bytes: Buffer } | { error: unknown } | { unread: UnreadFile };
    // A file the caller knows unread (`known`) is not read; an error asking is a read.
    const readOrKnow = (e: Entry): Promise<Read> => {
      const read = () => readBytes(e.abs, e.size, this.signal).then((bytes): Read => ({ bytes }), (error: unknown): Read => ({ error }));
      if (!known) return read();
      return known.unread(this.root, { path: e.rel, signature: e.signature }).then((unread) => (unread ? { unread } : read()), read);
    };
    const reads: Promise<Read>[] = [];
    let next = 0;
    let aheadBytes = 0;
    const readAhead = () => {
      while (next < toRead.length && reads.length < READ_AHEAD_FILES && (reads.length === 0 || aheadBytes + toRead[next].size <= READ_AHEAD_BYTES)) {
        const e = toRead[next++];
        aheadBytes += e.size;
        reads.push(readOrKnow(e));
      }
    };
    const files: SourceFile[] = [];
    // Reads done ahead resolve at once: awaiting them does not give the event loop a turn, so one is
    // given every YIELD_BYTES handed on (the editor's thread is every extension's).
    let sinceTurn = 0;
    for (const e of toRead) {
      this.signal?.throwIfAborted();
      readAhead();
      const read = await reads.shift()!;
      aheadBytes -= e.size;
      sinceTurn += e.size;
      if (sinceTurn >= YIELD_BYTES) {
        sinceTurn = 0;
        await nextTurn();
      }
      if ('unread' in read) {
        await onFile!(read.unread);
        continue;
      }
      if ('error' in read) {
        if (this.signal?.aborted) throw this.signal.reason;
        if (isMissing(read.error)) this.skip(e.rel, 'not-found', 'no such file (deleted while collecting)');
        else this.skip(e.rel, 'unreadable', `cannot read it (${errorCode(read.error)})`);
        continue;
      }
      const bytes = read.bytes;
      // The size is checked again: the file may have changed since the stat.
      if (bytes.length > maxFileBytes) {
        this.skip(e.rel, 'too-large', tooLargeDetail(bytes.length, maxFileBytes));
      } else if (bytes.length === 0) {
        this.skip(e.rel, 'empty', 'the file is empty (0 bytes); nothing to send');
      } else {
        const pieces = bytes.length > DECODE_WHOLE_BYTES ? await decodePieces(bytes) : undefined;
        const text = pieces ? (Array.isArray(pieces) ? pieces.reduce((a, b) => a + b, '') : pieces) : decode(bytes);
        if (typeof text === 'string') {
          // The bytes' sha256 is the text's (valid UTF-8, re-encoded byte for byte): cheaper than hashing
          // the text again. A large file's, in slices.
          const hash = Array.isArray(pieces) ? await sha256InSlices(bytes) : createHash('sha256').update(bytes).digest('hex');
          const file: SourceFile = { path: e.rel, text, hash, ...(Array.isArray(pieces) ? { pieces } : {}) };
          known?.read(this.root, { path: e.rel, signature: e.signature, hash, chars: text.length });
          if (onFile) await onFile(file);
          else files.push(file);
        }
        else this.skip(e.rel, 'binary', text.detail);
      }
    }
    const skipped = [...this.skipped.values()].sort((a, b) => compare(a.path, b.path));
    return { files, skipped };
  }

  private readonly realFolders = new Map<string, Promise<string>>();

  /** The real path of the folder `dir`, asked once per folder. */
  private realFolder(dir: string): Promise<string> {
    let real = this.realFolders.get(dir);
    if (!real) {
      real = fs.promises.realpath(dir);
      this.realFolders.set(dir, real);
    }
    return real;
  }

  /**
   * Walks `start` depth-first, calling `onFile` with each file's absolute path. `start` itself is
   * entered even when gitignored or named node_modules: it was named by the user.
   */
  private async walk(start: string, onFile: (abs: string) => void): Promise<void> {
    const stack: { dir: string; inherited: Rules[] }[] = [{ dir: start, inherited: await this.inheritedRules(start) }];
    while (stack.length > 0) {
      this.signal?.throwIfAborted();
      const { dir, inherited } = stack.pop() as { dir: string; inherited: Rules[] };
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch (e) {
        this.skip(this.relative(dir), 'unreadable', `cannot list this folder (${errorCode(e)})`);
        continue;
      }
      const names = new Set(entries.map((e) => e.name));
      const rules = await this.ownRules(dir, inherited, names.has('.git'), names.has('.gitignore'));
      for (const entry of entries) {
        const abs = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (NEVER_WALKED.has(entry.name) || isIgnored(rules, abs, true)) continue;
          // Rules that exclude this folder, overridden by a deeper negation, must not exclude its contents.
          stack.push({ dir: abs, inherited: rules.filter((r) => !excludes(r, abs, true)) });
        } else if (entry.isFile() || entry.isSymbolicLink()) {
          if (isIgnored(rules, abs, false)) continue;
          // Directory symlinks are not followed: they can form cycles, and git does not follow them either.
          if (entry.isSymbolicLink() && (await fs.promises.stat(abs).then((s) => s.isDirectory(), () => false))) continue;
          onFile(abs);
        }
      }
    }
  }

  /** The rules that decide the entries of `dir` once its own `.gitignore` (if any) is added. */
  private async ownRules(dir: string, inherited: Rules[], hasGit: boolean, hasGitignore: boolean): Promise<Rules[]> {
    if (!this.useGitignore) return [];
    // A nested repository is governed by its own ignore files only.
    const rules = hasGit ? [] : inherited;
    if (!hasGitignore) return rules;
    try {
      const text = await fs.promises.readFile(path.join(dir, '.gitignore'), 'utf8');
      return [...rules, { dir, ig: ignore({ ignorecase: IGNORE_CASE }).add(text.replace(/^\uFEFF/, '')) }];
    } catch {
      return rules; // an unreadable .gitignore is treated as absent, as git does
    }
  }

  /** Rules in force for `dir` from the folders above it, treating `dir` as named explicitly. */
  private async inheritedRules(dir: string): Promise<Rules[]> {
    if (!this.useGitignore || dir === (await this.top())) return [];
    const parent = path.dirname(dir);
    if (parent === dir) return [];
    return (await this.rulesInside(parent)).filter((r) => !excludes(r, dir, true));
  }

  private rulesInside(dir: string): Promise<Rules[]> {
    let rules = this.rulesCache.get(dir);
    if (!rules) {
      rules = this.inheritedRules(dir).then(async (inherited) =>
        this.ownRules(dir, inherited, await exists(path.join(dir, '.git')), await exists(path.join(dir, '.gitignore'))),
      );
      this.rulesCache.set(dir, rules);
    }
    return rules;
  }

  /** The top of the repository holding `root` (its `.gitignore` files apply), else `root` itself. */
  private top(): Promise<string> {
    this.topPromise ??= (async () => {
      for (let dir = this.root; ; dir = path.dirname(dir)) {
        if (await exists(path.join(dir, '.git'))) return dir;
        if (path.dirname(dir) === dir) return this.root;
      }
    })();
    return this.topPromise;
  }

  /** A glob relative to `cwd` with forward slashes and a normalised literal folder; undefined if outside. */
  private normaliseGlob(input: string): string | undefined {
    // On Windows a backslash is a separator, so it cannot quote a glob character there.
    const glob = process.platform === 'win32' ? input.replace(/\\/g, '/') : input;
    const { base, rest } = splitGlobBase(glob);
    const baseRel = path.relative(this.cwd, path.resolve(this.cwd, base));
    if (isOutside(baseRel)) return undefined;
    return baseRel ? `${toPosix(baseRel)}/${rest}` : rest;
  }

  private relative(abs: string): string {
    return toPosix(path.relative(this.root, abs));
  }

  private outsideDetail(): string {
    return `outside the working folder ${this.cwd}; run from a parent folder that contains it`;
  }

  private skip(rel: string, reason: SkipReason, detail: string): void {
    if (!this.skipped.has(rel)) this.skipped.set(rel, { path: rel, reason, detail });
  }
}

/** Git's precedence: the deepest `.gitignore` with a matching rule decides; within one, the last rule. */
function isIgnored(rules: Rules[], abs: string, isDir: boolean): boolean {
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i].ig.test(relativeTo(rules[i], abs, isDir));
    if (r.ignored) return true;
    if (r.unignored) return false;
  }
  return false;
}

function excludes(rules: Rules, abs: string, isDir: boolean): boolean {
  return rules.ig.ignores(relativeTo(rules, abs, isDir));
}

/** The path as `ignore` wants it: relative to the rules' folder, forward slashes, `/` after a folder. */
function relativeTo(rules: Rules, abs: string, isDir: boolean): string {
  return toPosix(path.relative(rules.dir, abs)) + (isDir ? '/' : '');
}

const NOT_UTF8 = 'not valid UTF-8 (another encoding, or binary); re-save it as UTF-8 to include it';

/** Why the start of a file shows it is not UTF-8 text (a UTF-16 byte-order mark, a NUL byte), or undefined. */
function sniff(bytes: Uint8Array): { detail: string } | undefined {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { detail: 'UTF-16 text; re-save it as UTF-8 to include it' };
  }
  const nul = bytes.subarray(0, SNIFF_BYTES).indexOf(0);
  return nul >= 0 ? { detail: `looks binary (NUL byte at offset ${nul}); only UTF-8 text files are sent` } : undefined;
}

/**
 * The text of a file, or why it is not text. A UTF-8 BOM is kept: outputs are joined back from text.
 * Validated by `isUtf8`, then decoded by `toString`: the same text as a fatal `TextDecoder`, several
 * times cheaper (the decoder was the largest cost of a warm plan; `npm run bench -- planning`).
 */
export function decode(bytes: Buffer): string | { detail: string } {
  const refused = sniff(bytes);
  if (refused) return refused;
  return isUtf8(bytes) ? bytes.toString('utf8') : { detail: NOT_UTF8 };
}

/** Files larger than this (the default size limit) are decoded in slices, yielding between them... */
export const DECODE_WHOLE_BYTES = DEFAULT_MAX_FILE_BYTES;
/** ...of this many bytes (a few ms each on a busy machine). */
export const DECODE_SLICE_BYTES = 256 * 1024;

/**
 * `decode(bytes)` without holding the thread for a large file (a raised size limit): the UTF-8 is
 * decoded in slices, each ending before a character's first byte, yielding to the event loop
 * between them. The text is `decode`'s, character for character.
 */
export async function decodeInSlices(bytes: Buffer, sliceBytes = DECODE_SLICE_BYTES): Promise<string | { detail: string }> {
  const pieces = await decodePieces(bytes, sliceBytes);
  return Array.isArray(pieces) ? pieces.join('') : (pieces as { detail: string });
}

/**
 * `decodeInSlices`'s pieces, not joined (joining copies the whole text in one go: 60–80 ms for 9 MB
 * here). The bytes are validated at once (`isUtf8`: a few ms for 9 MB), then decoded a slice at a time;
 * a slice is cut before a character's first byte, never inside the character.
 */
export async function decodePieces(bytes: Buffer, sliceBytes = DECODE_SLICE_BYTES): Promise<string[] | { detail: string }> {
  const refused = sniff(bytes);
  if (refused) return refused;
  if (!isUtf8(bytes)) return { detail: NOT_UTF8 };
  const parts: string[] = [];
  for (let start = 0; start < bytes.length;) {
    let end = Math.min(start + Math.max(1, sliceBytes), bytes.length);
    while (end < bytes.length && (bytes[end] & 0xc0) === 0x80) end++; // a continuation byte (10xxxxxx)
    parts.push(bytes.toString('utf8', start, end));
    start = end;
    if (start < bytes.length) await nextTurn();
  }
  return parts;
}

/** The sha256 of `bytes`, a slice at a time with a turn of the event loop between slices (a large file). */
async function sha256InSlices(bytes: Buffer, sliceBytes = 4 * DECODE_SLICE_BYTES): Promise<string> {
  const hash = createHash('sha256');
  for (let start = 0; start < bytes.length; start += sliceBytes) {
    if (start > 0) await nextTurn();
    hash.update(bytes.subarray(start, start + sliceBytes));
  }
  return hash.digest('hex');
}

function tooLargeDetail(size: number, limit: number): string {
  // The exact count too: 1 MiB + 1 byte would otherwise read "1 MiB is over the 1 MiB limit".
  const exact = size < 1024 ? '' : ` (${size} bytes)`;
  return `${formatBytes(size)}${exact} is over the ${formatBytes(limit)} limit; raise the file size limit (maxFileBytes) to include it`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const [value, unit] = n < 1_048_576 ? [n / 1024, 'KiB'] : [n / 1_048_576, 'MiB'];
  return `${Number(value.toFixed(1))} ${unit}`;
}


function toPosix(p: string): string {
  return path.sep === '/' ? p : p.split(path.sep).join('/');
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isMissing(e: unknown): boolean {
  const code = errorCode(e);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function errorCode(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : String(e);
}
