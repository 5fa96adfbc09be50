/**
 * The reduce step's record in a run folder (#16), written as it goes so that a kill at any level loses
 * no finished group:
 * - `reduce.jsonl`, one JSON object a line: `reduce` (the prompt and its output spec), `inputs` (every
 *   level-0 input: a file's successful results, or a piece of them; and what is not included, with why),
 *   one `level` line per level before it is sent (its groups, each with the ids of the inputs it took),
 *   one `group` line per group outcome, and `answer` once the reduce has ended;
 * - `reduce/<level>/<group>.out`: each group's answer, written atomically before its `group` line;
 * - `answer.md` (or `answer.json`): the final answer.
 * A new reduce with another prompt, or over results that changed since, starts the file again. The
 * folder is untrusted: every line is checked as it is read (ids are file-name-safe), every write goes
 * through the path guard. Reading this needs nothing else of core/reduce, so the report can use it.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../../util/atomicFile';
import type { ErrorKind } from '../execute/errors';
import type { OutputSpec } from '../output/spec';
import { checkRunOutput, PathGuard, UnsafePathError } from '../store/pathGuard';

export const REDUCE_JOURNAL = 'reduce.jsonl';
export const REDUCE_DIR = 'reduce';
export const ANSWER_MD = 'answer.md';
export const ANSWER_JSON = 'answer.json';

/** A level-0 input: one file's successful results (or a piece of them when they exceed a request). */
export interface InputRecord {
  /** `F<file number>`, or `F<n>.<piece>` for a piece of a file's results cut to fit a request. */
  id: string;
  path: string;
  /** The line ranges its results answer, e.g. `1-120, 300-410`. */
  lines: string;
  /** `k of n` for a piece. */
  part?: string;
  tokens: number;
  /** sha256 of its text as sent: a reduce over changed results starts again. */
  hash: string;
}

/** Something that is not in the answer, and why: a chunk of the run that did not succeed, or the inputs of a group that failed. */
export interface NotIncluded {
  path: string;
  lines: string;
  reason: string;
}

export interface GroupRecord {
  /** `R<level>.<group>`. */
  id: string;
  /** Ids of the inputs it took: level-0 inputs at level 1, partial answers (or their pieces) above. */
  inputs: string[];
  tokens: number;
}

export type ReduceLine =
  | { type: 'reduce'; prompt: string; output?: OutputSpec; at: string }
  | { type: 'inputs'; inputs: InputRecord[]; notIncluded: NotIncluded[]; at: string }
  | { type: 'level'; level: number; final: boolean; groups: GroupRecord[]; at: string }
  | {
      type: 'group';
      id: string;
      status: 'succeeded' | 'failed' | 'canceled';
      attempts: number;
      inputTokens: number;
      outputTokens: number;
      /** The answer's tokens by the run's tokenizer (what the next level packs by). */
      answerTokens?: number;
      error?: { kind: ErrorKind; message: string };
      cached?: true;
      at: string;
    }
  | { type: 'answer'; status: 'succeeded' | 'failed'; file?: string; levels: number; groups: number; requests: number; notIncluded: NotIncluded[]; message?: string; at: string };

/** A reduce as its journal tells it: the latest line of each group wins. */
export interface ReduceState {
  prompt: string;
  output?: OutputSpec;
  inputs?: { inputs: InputRecord[]; notIncluded: NotIncluded[] };
  levels: { level: number; final: boolean; groups: GroupRecord[] }[];
  groups: Map<string, Extract<ReduceLine, { type: 'group' }>>;
  answer?: Extract<ReduceLine, { type: 'answer' }>;
  /** Requests sent over the reduce's life (every attempt of every group, across resumes). */
  requests: number;
  /** Per group, summed over every line (a group retried by a resume counts each time). */
  usage: Map<string, { requests: number; inputTokens: number; outputTokens: number }>;
}

const GROUP_ID = /^R\d{1,4}\.\d{1,7}$/;
const INPUT_ID = /^(F\d{1,9}(\.\d{1,6})?|R\d{1,4}\.\d{1,7}(p\d{1,6})?)$/;

/** Where a group's answer is kept: `reduce/<level>/<group>.out`. */
export function groupFile(id: string): string {
  const m = /^R(\d+)\.(\d+)$/.exec(id);
  if (!m) throw new UnsafePathError(REDUCE_JOURNAL, 'a group id', id, 'is not a group id (R<level>.<group>)');
  return `${REDUCE_DIR}/${m[1]}/${m[2]}.out`;
}

/**
 * Reads and checks `reduce.jsonl`; undefined when there is none (or it holds no `reduce` line). A torn
 * last line (a kill mid-append) is skipped; any other malformed line is refused, naming it.
 */
export async function readReduceState(dir: string): Promise<ReduceState | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, REDUCE_JOURNAL), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const lines = text.split('\n');
  let state: ReduceState | undefined;
  for (const [i, raw] of lines.entries()) {
    if (!raw.trim()) continue;
    let line: ReduceLine;
    try {
      line = JSON.parse(raw) as ReduceLine;
    } catch {
      if (i === lines.length - 1) continue; // torn by a kill
      throw bad(i, 'is not JSON');
    }
    if (!line || typeof line !== 'object') throw bad(i, 'is not an object');
    if (line.type === 'reduce') {
      if (typeof line.prompt !== 'string') throw bad(i, 'has no prompt');
      checkRunOutput(line.output, `${REDUCE_JOURNAL} line ${i + 1}`);
      state = { prompt: line.prompt, output: line.output, levels: [], groups: new Map(), requests: 0, usage: new Map() };
      continue;
    }
    if (!state) throw bad(i, 'comes before the "reduce" line');
    if (line.type === 'inputs') {
      if (!Array.isArray(line.inputs) || !Array.isArray(line.notIncluded)) throw bad(i, 'has no inputs list');
      line.inputs.forEach((x, j) => {
        if (!INPUT_ID.test(String(x?.id))) throw new UnsafePathError(REDUCE_JOURNAL, `line ${i + 1} inputs[${j}].id`, String(x?.id), 'is not an input id');
      });
      state.inputs = { inputs: line.inputs, notIncluded: line.notIncluded };
    } else if (line.type === 'level') {
      if (!Number.isInteger(line.level) || !Array.isArray(line.groups)) throw bad(i, 'is not a level');
      line.groups.forEach((g, j) => {
        if (!GROUP_ID.test(String(g?.id))) throw new UnsafePathError(REDUCE_JOURNAL, `line ${i + 1} groups[${j}].id`, String(g?.id), 'is not a group id');
        if (!Array.isArray(g.inputs) || g.inputs.some((x) => !INPUT_ID.test(String(x)))) throw bad(i, `groups[${j}].inputs is not a list of input ids`);
      });
      state.levels = state.levels.filter((l) => l.level < line.level);
      state.levels.push({ level: line.level, final: line.final === true, groups: line.groups });
    } else if (line.type === 'group') {
      if (!GROUP_ID.test(String(line.id))) throw new UnsafePathError(REDUCE_JOURNAL, `line ${i + 1} id`, String(line.id), 'is not a group id');
      state.groups.set(line.id, line);
      const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
      const u = state.usage.get(line.id) ?? { requests: 0, inputTokens: 0, outputTokens: 0 };
      u.requests += n(line.attempts);
      u.inputTokens += n(line.inputTokens);
      u.outputTokens += n(line.outputTokens);
      state.usage.set(line.id, u);
      state.requests += n(line.attempts);
    } else if (line.type === 'answer') {
      state.answer = line;
    } else {
      throw bad(i, `has an unknown type ${JSON.stringify((line as { type?: unknown }).type)}`);
    }
  }
  return state;
}

function bad(i: number, why: string): Error {
  return new Error(`${REDUCE_JOURNAL} line ${i + 1} ${why}; it is not a reduce record Batch Prompt can use. Start the reduce again (batch-prompt reduce DIR --reduce …).`);
}

/** Appends lines to `reduce.jsonl` and writes the reduce's files, each through the run folder's path guard. */
export class ReduceJournal {
  private readonly guard: PathGuard;
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    this.guard = new PathGuard(dir, 'the run folder');
  }

  /** Starts the journal again with `first` (a new reduce): the old groups' answers and answer files go. */
  async restart(first: ReduceLine): Promise<void> {
    await fs.rm(await this.guard.resolve(REDUCE_DIR, REDUCE_JOURNAL, REDUCE_DIR), { recursive: true, force: true });
    for (const f of [ANSWER_MD, ANSWER_JSON]) await fs.rm(await this.guard.resolve(f, REDUCE_JOURNAL, f), { force: true });
    await writeFileAtomic(await this.guard.resolve(REDUCE_JOURNAL, REDUCE_JOURNAL, REDUCE_JOURNAL), `${JSON.stringify(first)}\n`);
  }

  /** Appends one line (after a torn last line is closed: see `closeTorn`). */
  append(line: ReduceLine): Promise<void> {
    const next = this.chain.then(async () => fs.appendFile(await this.guard.resolve(REDUCE_JOURNAL, REDUCE_JOURNAL, REDUCE_JOURNAL), `${JSON.stringify(line)}\n`, 'utf8'));
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** A kill mid-append can leave a last line without its newline: cut it off, so the next line stays whole. */
  async closeTorn(): Promise<void> {
    const file = path.join(this.dir, REDUCE_JOURNAL);
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    if (text === '' || text.endsWith('\n')) return;
    await fs.truncate(await this.guard.resolve(REDUCE_JOURNAL, REDUCE_JOURNAL, REDUCE_JOURNAL), Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1), 'utf8'));
  }

  /** Writes a file of the reduce (`reduce/…`, `answer.md`, …) atomically, checked by the guard. */
  async write(rel: string, text: string): Promise<void> {
    await writeFileAtomic(await this.guard.resolve(rel, REDUCE_JOURNAL, rel), text);
  }

  /** A group's recorded answer, or undefined when it has none on disk. */
  async readGroup(id: string): Promise<string | undefined> {
    return fs.readFile(path.join(this.dir, ...groupFile(id).split('/')), 'utf8').catch(() => undefined);
  }

  /** The answer file's text (`answer.md` / `answer.json`), or undefined. */
  async readAnswer(file: string | undefined): Promise<string | undefined> {
    if (file !== ANSWER_MD && file !== ANSWER_JSON) return undefined;
    return fs.readFile(path.join(this.dir, file), 'utf8').catch(() => undefined);
  }

  async flushed(): Promise<void> {
    await this.chain;
  }
}
