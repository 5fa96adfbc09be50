import { promises as fs } from 'fs';
import * as path from 'path';
import { ConfigError } from '../execute/errors';
import { isOutputKind, OUTPUT_KINDS, type JsonSchema } from '../output/kind';
import { checkSchema, SchemaError } from '../output/schemaFile';

/**
 * The one rule for paths a run folder (or a job file, or a cache) hands us: a cloned repository can
 * commit any of them, so none is trusted to stay inside the folder it is joined under.
 *
 * A stored path is relative, with forward slashes, and every segment is a plain name: no empty, `.`
 * or `..` segment, no absolute path, drive letter (`C:`), UNC prefix, backslash or NUL. Names that
 * merely start with dots (`..notes.md`, `.env`) are legal. On top of the spelling, a write is checked
 * against the real path of what exists on disk: a folder inside the run folder that links elsewhere
 * is outside too.
 */

/**
 * A path from a run folder, job file or cache that would lead outside it (or cannot be a file name):
 * a `config` error (fatal: nothing is written or sent) that names the file and the entry.
 */
export class UnsafePathError extends ConfigError {
  constructor(
    /** The file the path was read from (`run.json`, `run.jsonl`, `job.json`, …), as shown to the user. */
    readonly file: string,
    /** Where in that file (`files[2].path`, `line 7 chunkId`, …). */
    readonly entry: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super(`${file}: ${entry} ${JSON.stringify(value)} ${reason}; nothing was written or sent. The folder may come from a repository you cloned: check it, or start a new run.`);
  }
  static readonly is = (e: unknown): e is UnsafePathError => e instanceof UnsafePathError;
}

/** Why `p` is not a safe relative path (forward slashes, plain segments), or undefined when it is. */
export function relativePathProblem(p: unknown): string | undefined {
  if (typeof p !== 'string') return 'is not a string';
  if (p === '') return 'is empty';
  if (p.includes('\0')) return 'holds a NUL character';
  if (p.includes('\\')) return 'holds a backslash (paths are recorded with forward slashes)';
  if (p.startsWith('/')) return 'is absolute';
  if (/^[A-Za-z]:/.test(p)) return 'starts with a drive letter';
  for (const segment of p.split('/')) {
    if (segment === '') return 'has an empty segment';
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
  }
  return undefined;
}

/** Throws `UnsafePathError` (naming `file` and `entry`) unless `p` is a safe relative path. */
export function checkRelativePath(p: unknown, file: string, entry: string): asserts p is string {
  const problem = relativePathProblem(p);
  if (problem) throw new UnsafePathError(file, entry, String(p), problem);
}

/** A chunk id becomes a file name (`chunks/ID.out`): word characters, dots and dashes only, not `.` or `..`. */
const CHUNK_ID_RE = /^[A-Za-z0-9_.-]{1,128}$/;

/** Why `id` cannot be a chunk id, or undefined when it can. */
export function chunkIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return 'is not a string';
  if (!CHUNK_ID_RE.test(id)) return 'is not a chunk id (letters, digits, "_", "." and "-", at most 128)';
  if (id === '.' || id === '..') return 'is not a chunk id';
  return undefined;
}

export function checkChunkId(id: unknown, file: string, entry: string): asserts id is string {
  const problem = chunkIdProblem(id);
  if (problem) throw new UnsafePathError(file, entry, String(id), problem);
}

/**
 * True when `rel`, a result of `path.relative(from, to)` on this platform, leaves `from`: it is `..`,
 * starts with a `..` segment, or is absolute (another drive on Windows). `..notes.md` is inside.
 */
export function isOutside(rel: string, p: Pick<typeof path, 'sep' | 'isAbsolute'> = path): boolean {
  return rel === '..' || rel.startsWith(`..${p.sep}`) || (p.sep !== '/' && rel.startsWith('../')) || p.isAbsolute(rel);
}

/** True when `child` is `parent` or under it (plain path arithmetic, no file system). */
export function isInside(parent: string, child: string): boolean {
  return !isOutside(path.relative(parent, child));
}

/**
 * Resolves safe relative paths under one folder for writing, each checked against the real path of
 * what exists: the deepest existing ancestor of the target (and the target itself when it is there)
 * must resolve inside the folder's real path. Real paths of folders are remembered for the guard's
 * life (a run), so checking every chunk costs one `lstat` each.
 */
export class PathGuard {
  private realRoot: string | undefined;
  private readonly realDirs = new Map<string, string>();

  constructor(
    readonly root: string,
    /** How the folder is named in messages. */
    private readonly label = root,
  ) {}

  /** `root` joined with `rel` (checked as a relative path first); no file-system check. */
  join(rel: string, file: string, entry: string): string {
    checkRelativePath(rel, file, entry);
    return path.join(this.root, ...rel.split('/'));
  }

  /**
   * Where `rel` lands under the folder, refused with `UnsafePathError` when it is not a safe relative
   * path or when a link on the way leads outside the folder. `file`/`entry` name where it came from.
   */
  async resolve(rel: string, file: string, entry: string): Promise<string> {
    const target = this.join(rel, file, entry);
    await this.checkReal(target, file, entry, rel);
    return target;
  }

  /** Checks an absolute `target` (under `root` by construction) against the real path of what exists. */
  async checkReal(target: string, file: string, entry: string, shown = target): Promise<void> {
    const root = await this.rootReal();
    if (isOutside(path.relative(this.root, target))) throw new UnsafePathError(file, entry, shown, `leads outside ${this.label}`);
    // The target itself: a link planted where a file will be written (appended, replaced) is followed by some writes.
    let existing = target;
    try {
      const st = await fs.lstat(target);
      if (st.isSymbolicLink()) {
        let real: string;
        try {
          real = await fs.realpath(target);
        } catch {
          throw new UnsafePathError(file, entry, shown, 'is a link that leads nowhere');
        }
        if (isOutside(path.relative(root, real))) throw new UnsafePathError(file, entry, shown, `is a link that leads outside ${this.label}`);
      }
      existing = path.dirname(target);
    } catch (e) {
      if (UnsafePathError.is(e)) throw e;
      existing = path.dirname(target);
    }
    // The deepest folder on the way that exists, by its real path.
    for (;;) {
      const real = await this.realDir(existing);
      if (real !== undefined) {
        if (isOutside(path.relative(root, real))) throw new UnsafePathError(file, entry, shown, `leads outside ${this.label} through a link`);
        return;
      }
      const parent = path.dirname(existing);
      if (parent === existing || isOutside(path.relative(this.root, parent))) return;
      existing = parent;
    }
  }

  /** The folder's real path; while it does not exist yet, its deepest existing ancestor's real path joined with the rest. */
  private async rootReal(): Promise<string> {
    if (this.realRoot !== undefined) return this.realRoot;
    const root = path.resolve(this.root);
    try {
      this.realRoot = await fs.realpath(root);
      return this.realRoot;
    } catch {
      for (let dir = path.dirname(root), rest = path.basename(root); ; rest = path.join(path.basename(dir), rest), dir = path.dirname(dir)) {
        const real = await fs.realpath(dir).catch(() => undefined);
        if (real !== undefined) return path.join(real, rest);
        if (path.dirname(dir) === dir) return root;
      }
    }
  }

  private async realDir(dir: string): Promise<string | undefined> {
    const known = this.realDirs.get(dir);
    if (known !== undefined) return known;
    try {
      const real = await fs.realpath(dir);
      this.realDirs.set(dir, real);
      return real;
    } catch {
      return undefined;
    }
  }
}

/** The shapes checked below, loosely: they come from disk, so every field is unknown until checked. */
interface StoredFile {
  path?: unknown;
  chunks?: unknown;
}

/**
 * Checks every path and chunk id of a `run.json` (as parsed) before anything is written: each
 * `files[i].path` is a safe relative path and appears once, each chunk id is a file-name-safe id that
 * appears once in the run, and each chunk belongs to its file. Throws `UnsafePathError` naming `file`
 * and the entry (a folder that is no run at all is an `Error` naming the file).
 */
/** The paths and chunk ids of a run's files so far (see `checkStoredFile`). */
export interface StoredNames {
  readonly paths: Set<string>;
  readonly ids: Set<string>;
}

/**
 * Checks one entry of a run's `files` (the `index`-th, read from `file`): a safe relative path, chunk
 * ids that can be file names, each chunk of this file's path, and no path or id already in `known`.
 * Adds its path and ids to `known` only when the whole entry passes. Costs the entry's size, not the
 * run's: a run that plans as it sends checks each file as it joins (`RunStore.addPlannedFile`).
 */
export function checkStoredFile(f: unknown, index: number, known: StoredNames, file = 'run.json'): void {
  const p = (f as StoredFile | null)?.path;
  checkRelativePath(p, file, `files[${index}].path`);
  if (known.paths.has(p)) throw new UnsafePathError(file, `files[${index}].path`, p, 'appears twice');
  const chunks = (f as StoredFile).chunks as unknown;
  if (!Array.isArray(chunks)) throw new UnsafePathError(file, `files[${index}].chunks`, p, 'is not a list of chunks');
  const ids = new Set<string>();
  (chunks as { id?: unknown; path?: unknown }[]).forEach((c, j) => {
    checkChunkId(c?.id, file, `files[${index}].chunks[${j}].id`);
    if (ids.has(c.id) || known.ids.has(c.id)) throw new UnsafePathError(file, `files[${index}].chunks[${j}].id`, c.id, 'appears twice');
    ids.add(c.id);
    if (c.path !== p) throw new UnsafePathError(file, `files[${index}].chunks[${j}].path`, String(c.path), `is not its file's path (${p})`);
  });
  known.paths.add(p);
  for (const id of ids) known.ids.add(id);
}

export function checkRunMeta(meta: unknown, file = 'run.json'): void {
  const files = (meta as { files?: unknown } | null)?.files;
  if (!meta || typeof meta !== 'object' || !Array.isArray(files)) throw new Error(`${file} is not a run record (no "files" list).`);
  const known: StoredNames = { paths: new Set(), ids: new Set() };
  (files as unknown[]).forEach((f, i) => checkStoredFile(f, i, known, file));
  const skipped = (meta as { skipped?: unknown }).skipped;
  if (skipped !== undefined) {
    if (!Array.isArray(skipped)) throw new UnsafePathError(file, 'skipped', String(skipped), 'is not a list of files');
    (skipped as { path?: unknown; reason?: unknown }[]).forEach((s, i) => {
      checkRelativePath(s?.path, file, `skipped[${i}].path`);
      if (typeof s.reason !== 'string') throw new UnsafePathError(file, `skipped[${i}].reason`, String(s.reason), 'is not a string');
    });
  }
  checkRunOutput((meta as { output?: unknown }).output, file);
}

/**
 * A `run.json` whose `output` (#14) cannot be used: an unknown kind, or a `json` kind without a valid
 * JSON Schema. A `config` error naming the file and the entry; nothing is written or sent.
 */
export class RunOutputError extends ConfigError {
  constructor(
    readonly file: string,
    readonly entry: string,
    reason: string,
  ) {
    super(`${file}: ${entry} ${reason}; nothing was written or sent. The folder may come from a repository you cloned: check it, or start a new run.`);
  }
  static readonly is = (e: unknown): e is RunOutputError => e instanceof RunOutputError;
}

/** Checks a `run.json`'s `output` (absent: text): a known kind, and for `json` a schema that `checkSchema` accepts. */
export function checkRunOutput(output: unknown, file = 'run.json'): void {
  if (output === undefined) return;
  if (!output || typeof output !== 'object' || Array.isArray(output)) throw new RunOutputError(file, 'output', 'is not an object with a "kind"');
  const { kind, schema } = output as { kind?: unknown; schema?: unknown };
  if (!isOutputKind(kind)) throw new RunOutputError(file, 'output.kind', `${JSON.stringify(kind) ?? 'missing'} is not an output kind (${OUTPUT_KINDS.join(', ')})`);
  if (kind !== 'json') {
    if (schema !== undefined) throw new RunOutputError(file, 'output.schema', `is given for the ${kind} kind, which takes none`);
    return;
  }
  if (schema === undefined) throw new RunOutputError(file, 'output.schema', 'is missing: the json kind needs a schema');
  try {
    checkSchema(schema as JsonSchema, `${file} output.schema`);
  } catch (e) {
    if (!SchemaError.is(e)) throw e;
    throw new RunOutputError(file, 'output.schema', `cannot be used (${e.message.replace(/\.$/, '')})`);
  }
}

/** Checks one `run.jsonl` record (as parsed) at 1-based `line`: a safe `path` and `chunkId`. */
export function checkRecord(record: unknown, line: number, file = 'run.jsonl'): void {
  if (!record || typeof record !== 'object') throw new UnsafePathError(file, `line ${line}`, JSON.stringify(record) ?? String(record), 'is not a chunk record');
  const r = record as { chunkId?: unknown; path?: unknown };
  checkChunkId(r.chunkId, file, `line ${line} chunkId`);
  checkRelativePath(r.path, file, `line ${line} path`);
}

/** Checks the chunk ids of a `job.json` (as parsed): every request's `chunkIds` are file-name-safe ids. */
export function checkJobChunks(job: unknown, file = 'job.json'): void {
  const requests = (job as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests)) throw new Error(`${file} is not a batch job record (no "requests" list).`);
  (requests as { customId?: unknown; chunkIds?: unknown }[]).forEach((r, i) => {
    if (typeof r?.customId !== 'string') throw new UnsafePathError(file, `requests[${i}].customId`, String(r?.customId), 'is not a string');
    if (!Array.isArray(r.chunkIds)) throw new UnsafePathError(file, `requests[${i}].chunkIds`, String(r.chunkIds), 'is not a list of chunk ids');
    (r.chunkIds as unknown[]).forEach((id, j) => checkChunkId(id, file, `requests[${i}].chunkIds[${j}]`));
  });
}

/**
 * A run folder's `root` (the folder its files are read from) that the caller does not allow: a
 * committed `run.json` naming `~` would otherwise have resume or retry read files outside the
 * workspace and send them to the user's own endpoint.
 */
export class UntrustedRootError extends ConfigError {
  constructor(
    readonly root: string,
    readonly allowed: readonly string[],
    readonly hint: string,
  ) {
    super(`run.json: root ${JSON.stringify(root)} is not ${allowed.length === 1 ? JSON.stringify(allowed[0]) : `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`}, so its files are not read; nothing was written or sent. ${hint}`);
  }
  static readonly is = (e: unknown): e is UntrustedRootError => e instanceof UntrustedRootError;
}

/**
 * Throws `UntrustedRootError` unless `root` is, on disk, one of `allowed` (the CLI's working folder,
 * the editor's workspace folders). Compared by real path, so a link to an allowed folder is that folder.
 */
export async function checkRunRoot(root: unknown, allowed: readonly string[], hint: string): Promise<void> {
  const real = async (p: string) => fs.realpath(p).catch(() => path.resolve(p));
  const wanted = typeof root === 'string' && path.isAbsolute(root) ? await real(root) : undefined;
  const ok = wanted !== undefined && (await Promise.all(allowed.map(real))).includes(wanted);
  if (!ok) throw new UntrustedRootError(String(root), allowed, hint);
}

/** Which folders a resume or retry may read a run's files from, and what to say when the run's is not one. */
export interface RootPolicy {
  /** Absolute folders (the CLI's working folder; the editor's workspace folders). */
  allowed: readonly string[];
  /** The way forward, appended to the refusal. */
  hint: string;
}
