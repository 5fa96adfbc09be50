/**
 * An edit run's proposals in its run folder (#15), written by the engine and read by both front ends:
 *
 * - `proposed/<path>.proposed`: the whole new file, only when every chunk of the file succeeded (a name no
 *   language server or linter takes for source: output/names.ts; `proposed/<path>` before #18, still read);
 * - `proposals.json`: `{ version: 1, files: [{ path, hash, status, reason?, suspicious? }] }`, one entry
 *   per planned file (`hash`: the planned sha256 of the original);
 * - `edits.patch`: a git-style unified diff (`a/<path>`, `b/<path>`) of every proposal against its planned
 *   original, made with the `diff` package; it applies with `git apply` at the run's root.
 *
 * All three are rewritten whole from the folder's latest state (run.json, run.jsonl, chunks/) after a
 * run, a retry, a resume or a collect. Nothing here writes under the user's folders except
 * `applyProposals`, and only files whose current sha256 is still the planned one.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { formatPatch, structuredPatch, type StructuredPatch } from 'diff';
import { writeFileAtomic } from '../../util/atomicFile';
import { globMatcher } from '../input/glob';
import { hashText } from '../plan/plan';
import { checkRelativePath, PathGuard, UnsafePathError } from '../store/pathGuard';
import { chunkFileOf } from './artifacts';
import { proposedNameOf } from './names';
import { lineEndingOf, normalizePart, suspicionOf } from './editText';
import type { ChunkRef } from '../plan/types';

export const PROPOSALS_FILE = 'proposals.json';
export const EDITS_PATCH = 'edits.patch';
export const PROPOSED_DIR = 'proposed';
/** Every name the proposals writer puts beside run.json (for the folder checks). */
export const EDIT_FILES = [PROPOSALS_FILE, EDITS_PATCH] as const;

export type ProposalStatus = 'proposed' | 'incomplete' | 'unchanged' | 'skipped';
export const PROPOSAL_STATUSES: readonly ProposalStatus[] = ['proposed', 'incomplete', 'unchanged', 'skipped'];

/** A rewritten part kept but flagged for the review: it shrank to under half its lines, or to nothing. */
export interface SuspiciousPart {
  chunkId: string;
  /** 1-based inclusive lines of the part in the original file. */
  startLine: number;
  endLine: number;
  note: string;
}

export interface ProposalEntry {
  /** Run-relative, `/`-separated. */
  path: string;
  /** The planned sha256 of the original: a proposal applies only while the file still has it. */
  hash: string;
  /**
   * `proposed`: `proposed/<path>` holds the new file. `incomplete`: some chunk did not succeed (retry it).
   * `unchanged`: every part came back identical (nothing to review). `skipped`: no proposal can be made
   * (`reason`: the file changed or was deleted since the run, or could not be edited in parts).
   */
  status: ProposalStatus;
  reason?: string;
  suspicious?: SuspiciousPart[];
}

export interface ProposalManifest {
  version: 1;
  files: ProposalEntry[];
}

/** What the proposals writer needs of a run folder (a `RunMeta` and its latest records). */
export interface EditRunState {
  root: string;
  files: readonly { path: string; hash: string; chunks: readonly ChunkRef[] }[];
  /** Edit runs' skipped files (a line over the budget), recorded in run.json by the planner's caller. */
  skipped?: readonly { path: string; reason: string }[];
}

/** The latest record of a chunk, as far as proposals care. */
export interface EditRecord {
  chunkId: string;
  status: string;
  flags?: string[];
  note?: string;
}

/** Reads a run-relative path of the run's root (from disk by default). */
export type OriginalReader = (relativePath: string) => Promise<string>;

/** Changed or deleted since the run: the front ends show this reason as is. */
export const CHANGED_SINCE_RUN = 'changed since the run: re-run it';
export const DELETED_SINCE_RUN = 'deleted since the run';

/**
 * Rewrites `proposed/`, `proposals.json` and `edits.patch` of an edit run folder from its latest state.
 * A file whose chunks all succeeded gets its parts joined (each normalised to the original's line endings,
 * BOM and edge blank lines) into its proposal, checked against its original read from the root; the other
 * files are listed with why they have none. Writes atomically through the path guard.
 */
export async function writeProposals(dir: string, run: EditRunState, records: readonly EditRecord[], options: { read?: OriginalReader } = {}): Promise<ProposalManifest> {
  const latest = new Map<string, EditRecord>();
  for (const r of records) latest.set(r.chunkId, r);
  const guard = new PathGuard(dir, 'the run folder');
  const read = options.read ?? diskOriginals(run.root);
  const entries: ProposalEntry[] = [];
  const patches: string[] = [];
  for (const f of run.files) {
    const legacyFile = await guard.resolve(`${PROPOSED_DIR}/${f.path}`, 'run.json', 'a file path');
    const proposedFile = await guard.resolve(`${PROPOSED_DIR}/${proposedNameOf(f.path)}`, 'run.json', 'a file path');
    // The name of before #18 (the source's own) is dropped whenever the proposals are rewritten.
    await fs.rm(legacyFile, { force: true });
    const proposal = await proposalOf(dir, f, latest, read);
    entries.push(proposal.entry);
    if (proposal.entry.status === 'proposed') {
      await writeFileAtomic(proposedFile, proposal.text!);
      patches.push(patchOf(f.path, proposal.original!, proposal.text!));
    } else {
      await fs.rm(proposedFile, { force: true });
    }
  }
  for (const s of run.skipped ?? []) entries.push({ path: s.path, hash: '', status: 'skipped', reason: s.reason });
  const manifest: ProposalManifest = { version: 1, files: entries };
  await writeFileAtomic(await guard.resolve(PROPOSALS_FILE, PROPOSALS_FILE, PROPOSALS_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFileAtomic(await guard.resolve(EDITS_PATCH, EDITS_PATCH, EDITS_PATCH), patches.join(''));
  return manifest;
}

function diskOriginals(root: string): OriginalReader {
  const guard = new PathGuard(root, 'the run\'s root');
  return (p) => fs.readFile(guard.join(p, 'run.json', 'a file path'), 'utf8');
}

/** Line-diff work allowed for one file (lines × edits, Myers' bound): beyond it, one hunk replaces the whole file. */
const DIFF_BUDGET = 50_000_000;

/**
 * A unified diff of one file, git style (`diff --git a/p b/p`), that `git apply` takes at the run's root.
 * A large file with many changed lines would take the line diff quadratic time: past `DIFF_BUDGET` its
 * patch is one hunk replacing every line (as valid, less readable). Deterministic either way.
 */
export function patchOf(p: string, original: string, proposed: string): string {
  const lines = countBreaks(original) + countBreaks(proposed) + 2;
  const maxEditLength = Math.max(1000, Math.floor(DIFF_BUDGET / lines));
  const patch = structuredPatch(`a/${p}`, `b/${p}`, original, proposed, undefined, undefined, { context: 3, maxEditLength }) ?? wholeFilePatch(p, original, proposed);
  return formatPatch({ ...patch, isGit: true });
}

function countBreaks(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** One hunk that removes every line of `original` and adds every line of `proposed`. */
function wholeFilePatch(p: string, original: string, proposed: string): StructuredPatch {
  const split = (t: string) => {
    const ls = t === '' ? [] : t.split('\n');
    const finalBreak = t === '' || ls[ls.length - 1] === '';
    if (t !== '' && finalBreak) ls.pop();
    return { ls, finalBreak };
  };
  const o = split(original);
  const n = split(proposed);
  const lines: string[] = [];
  const add = (sign: string, side: { ls: string[]; finalBreak: boolean }) => side.ls.forEach((l, i) => {
    lines.push(sign + l);
    if (i === side.ls.length - 1 && !side.finalBreak) lines.push('\\ No newline at end of file');
  });
  add('-', o);
  add('+', n);
  return { oldFileName: `a/${p}`, newFileName: `b/${p}`, oldHeader: undefined, newHeader: undefined, hunks: [{ oldStart: 1, oldLines: o.ls.length, newStart: 1, newLines: n.ls.length, lines }] };
}

async function proposalOf(
  dir: string,
  f: EditRunState['files'][number],
  latest: ReadonlyMap<string, EditRecord>,
  read: OriginalReader,
): Promise<{ entry: ProposalEntry; text?: string; original?: string }> {
  const base = { path: f.path, hash: f.hash };
  const failed = f.chunks.filter((c) => latest.get(c.id)?.status !== 'succeeded');
  if (failed.length) {
    return { entry: { ...base, status: 'incomplete', reason: `failed chunks: ${failed.length} of ${f.chunks.length} did not succeed (${failed.map((c) => c.id).join(', ')}); retry them to complete the proposal` } };
  }
  const parts: string[] = [];
  for (const c of f.chunks) {
    try {
      parts.push(await fs.readFile(path.join(dir, ...chunkFileOf(c.id).split('/')), 'utf8'));
    } catch {
      return { entry: { ...base, status: 'incomplete', reason: `failed chunks: the output of chunk ${c.id} is missing (${chunkFileOf(c.id)}); resume or retry the run` } };
    }
  }
  let original: string;
  try {
    original = await read(f.path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { entry: { ...base, status: 'skipped', reason: code === 'ENOENT' ? DELETED_SINCE_RUN : `could not be read (${code ?? String(e)})` } };
  }
  if (hashText(original) !== f.hash) return { entry: { ...base, status: 'skipped', reason: CHANGED_SINCE_RUN } };
  const tiling = tilingProblem(f.chunks, original.length);
  if (tiling) return { entry: { ...base, status: 'skipped', reason: `run.json's chunks of this file ${tiling}: no proposal can be made from them` } };
  const eol = lineEndingOf(original);
  const suspicious: SuspiciousPart[] = [];
  let text = '';
  for (const [i, c] of f.chunks.entries()) {
    const from = c.start + c.overlap;
    const to = c.end - (c.trailing ?? 0);
    const orig = original.slice(from, to);
    const part = normalizePart(orig, parts[i], eol);
    text += part;
    const r = latest.get(c.id);
    // A record's flag is taken (a split chunk's notes name its parts); a hand-edited record cannot put a non-string here.
    const flagged = Array.isArray(r?.flags) && r.flags.includes('suspicious');
    const note = flagged ? (typeof r?.note === 'string' ? r.note : 'flagged suspicious') : suspicionOf(orig, part)?.note;
    if (note !== undefined) suspicious.push({ chunkId: c.id, startLine: lineAt(original, from), endLine: lineAt(original, Math.max(from, to - 1)), note });
  }
  if (text === original) return { entry: { ...base, status: 'unchanged' } };
  return { entry: { ...base, status: 'proposed', ...(suspicious.length ? { suspicious } : {}) }, text, original };
}

/** Why the chunks' editable parts do not tile a text of `length` exactly (in order, no gap, no overlap), or undefined. */
function tilingProblem(chunks: readonly ChunkRef[], length: number): string | undefined {
  let at = 0;
  for (const c of chunks) {
    const from = c.start + c.overlap;
    const to = c.end - (c.trailing ?? 0);
    const ints = [c.start, c.end, c.overlap, c.trailing ?? 0].every((n) => Number.isInteger(n) && n >= 0);
    if (!ints || from !== at || to < from || c.end > length) return `do not cover it exactly (chunk ${String(c.id)})`;
    at = to;
  }
  return at === length ? undefined : 'do not cover it to its end';
}

function lineAt(text: string, offset: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** A `proposals.json` that cannot be used: names the file, the entry and what is wrong. */
export class ProposalsError extends Error {
  override readonly name = 'ProposalsError';
  static readonly is = (e: unknown): e is ProposalsError => e instanceof ProposalsError;
}

/**
 * Reads and checks a run folder's `proposals.json` (untrusted: a cloned folder can hold anything): the
 * version, every path a safe relative path (`UnsafePathError`), every hash a sha256 (or '' for a skipped
 * file), every status known, suspicious parts well formed. Throws `ProposalsError` naming the entry; a
 * folder without the file (not an edit run, or not finished) gives ENOENT.
 */
export async function readProposals(dir: string): Promise<ProposalManifest> {
  const file = path.join(dir, PROPOSALS_FILE);
  const text = await fs.readFile(file, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ProposalsError(`${file} is not valid JSON (${(e as Error).message}); re-run the edit, or resume it to write it again.`);
  }
  const bad = (entry: string, why: string) => new ProposalsError(`${file}: ${entry} ${why}; the proposals cannot be reviewed or applied. Resume the run to write them again.`);
  const m = data as Partial<ProposalManifest> | null;
  if (!m || typeof m !== 'object' || m.version !== 1 || !Array.isArray(m.files)) throw bad('the file', 'is not a version 1 manifest with a "files" list');
  const seen = new Set<string>();
  m.files.forEach((f: Partial<ProposalEntry> | null, i) => {
    if (!f || typeof f !== 'object') throw bad(`files[${i}]`, 'is not an object');
    checkRelativePath(f.path, PROPOSALS_FILE, `files[${i}].path`);
    if (seen.has(f.path)) throw new UnsafePathError(PROPOSALS_FILE, `files[${i}].path`, f.path, 'appears twice');
    seen.add(f.path);
    if (!PROPOSAL_STATUSES.includes(f.status as ProposalStatus)) throw bad(`files[${i}].status`, `${JSON.stringify(f.status)} is not one of ${PROPOSAL_STATUSES.join(', ')}`);
    if (typeof f.hash !== 'string' || !(/^[0-9a-f]{64}$/.test(f.hash) || (f.status === 'skipped' && f.hash === ''))) throw bad(`files[${i}].hash`, 'is not a sha256');
    if (f.reason !== undefined && typeof f.reason !== 'string') throw bad(`files[${i}].reason`, 'is not a string');
    if (f.suspicious !== undefined) {
      if (!Array.isArray(f.suspicious)) throw bad(`files[${i}].suspicious`, 'is not a list');
      f.suspicious.forEach((s: Partial<SuspiciousPart> | null, j) => {
        if (!s || typeof s.chunkId !== 'string' || !Number.isInteger(s.startLine) || !Number.isInteger(s.endLine) || typeof s.note !== 'string') {
          throw bad(`files[${i}].suspicious[${j}]`, 'needs a chunkId, integer startLine and endLine, and a note');
        }
      });
    }
  });
  return m as ProposalManifest;
}

/**
 * The proposed new text of `p` (`proposed/<p>.proposed`, or `proposed/<p>` in a folder written before #18),
 * read through the path guard: a link planted in a cloned run folder that leads outside it is refused
 * (`UnsafePathError`).
 */
export async function proposedText(dir: string, p: string): Promise<string> {
  return fs.readFile(await proposedFileOf(dir, p), 'utf8');
}

/** The file holding `p`'s proposal (see `proposedText`), checked by the path guard; the new name when neither exists. */
export async function proposedFileOf(dir: string, p: string): Promise<string> {
  const guard = new PathGuard(dir, 'the run folder');
  const current = await guard.resolve(`${PROPOSED_DIR}/${proposedNameOf(p)}`, PROPOSALS_FILE, 'a file path');
  try {
    await fs.access(current);
    return current;
  } catch {
    const legacy = await guard.resolve(`${PROPOSED_DIR}/${p}`, PROPOSALS_FILE, 'a file path');
    try {
      await fs.access(legacy);
      return legacy;
    } catch {
      return current;
    }
  }
}

export type ApplyOutcome = 'applied' | 'skipped' | 'unchanged';

export interface AppliedFile {
  path: string;
  outcome: ApplyOutcome;
  /** Why it was skipped: changed or deleted since the run, failed chunks, could not be edited in parts. */
  reason?: string;
}

export interface ApplyResult {
  files: AppliedFile[];
  applied: number;
  skipped: number;
}

/**
 * Writes an edit run's proposals into `root` (the folder its paths are relative to), atomically, each only
 * while the file's current sha256 is the planned one (`hash`); a file changed or deleted since the run, or
 * without a proposal (failed chunks, skipped), is skipped with its reason and left byte-identical. `only`:
 * a glob of the run-relative paths to consider (the others are not listed). A file keeps its permissions.
 * Paths are checked (`UnsafePathError`) before anything is written.
 */
export async function applyProposals(root: string, dir: string, options: { only?: string } = {}): Promise<ApplyResult> {
  const manifest = await readProposals(dir);
  const matches = options.only ? globMatcher(options.only) : () => true;
  const guard = new PathGuard(root, 'the run\'s root');
  const targets = new Map<string, string>();
  // Every path is checked before the first write: a manifest that leads one write outside refuses them all.
  for (const [i, f] of manifest.files.entries()) {
    if (f.status === 'proposed' && matches(f.path)) targets.set(f.path, await guard.resolve(f.path, PROPOSALS_FILE, `files[${i}].path`));
  }
  const files: AppliedFile[] = [];
  for (const f of manifest.files) {
    if (!matches(f.path)) continue;
    if (f.status === 'unchanged') {
      files.push({ path: f.path, outcome: 'unchanged' });
      continue;
    }
    if (f.status !== 'proposed') {
      files.push({ path: f.path, outcome: 'skipped', reason: f.reason ?? (f.status === 'incomplete' ? 'failed chunks: retry them' : 'no proposal') });
      continue;
    }
    files.push(await applyOne(f, targets.get(f.path)!, dir));
  }
  return { files, applied: files.filter((f) => f.outcome === 'applied').length, skipped: files.filter((f) => f.outcome === 'skipped').length };
}

async function applyOne(f: ProposalEntry, target: string, dir: string): Promise<AppliedFile> {
  let current: string;
  let mode: number;
  try {
    [current, mode] = await Promise.all([fs.readFile(target, 'utf8'), fs.stat(target).then((s) => s.mode & 0o7777)]);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { path: f.path, outcome: 'skipped', reason: code === 'ENOENT' ? DELETED_SINCE_RUN : `could not be read (${code ?? String(e)})` };
  }
  if (hashText(current) !== f.hash) return { path: f.path, outcome: 'skipped', reason: CHANGED_SINCE_RUN };
  let text: string;
  try {
    text = await proposedText(dir, f.path);
  } catch (e) {
    if (UnsafePathError.is(e)) throw e;
    return { path: f.path, outcome: 'skipped', reason: `its proposal (${PROPOSED_DIR}/${f.path}) is missing: resume the run to write it again` };
  }
  await writeFileAtomic(target, text, { mode });
  return { path: f.path, outcome: 'applied' };
}
