/**
 * The shape of a reduce (#16), pure: inputs packed into groups under a request's budget (the fan-in
 * comes from the budget, not from a constant), an input too large for one request cut with the chunker,
 * the coverage check run before any level is sent, and the estimate of a whole tree from expected sizes.
 */
import { chunkFile } from '../plan/chunker';
import { batchBudget } from '../plan/packer';
import type { Tokenizer } from '../plan/tokenizer';
import { ConfigError } from '../execute/errors';
import type { GroupRecord } from './journal';

/** An input ready to pack: its id and what it costs inside a group's text. */
export interface Sized {
  id: string;
  cost: number;
}

/** More levels than this means the tree does not shrink: refused (a bug, or budgets too small). */
export const MAX_LEVELS = 40;

/**
 * Groups of consecutive inputs, in order, each costing at most `room` (an input costing more gets a
 * group of its own: the caller cuts inputs to fit first).
 */
export function packGroups(items: readonly Sized[], room: number): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let used = 0;
  for (const it of items) {
    if (current.length && used + it.cost > room) {
      groups.push(current);
      current = [];
      used = 0;
    }
    current.push(it.id);
    used += it.cost;
  }
  if (current.length) groups.push(current);
  return groups;
}

/** `text` in pieces of at most `maxTokens` tokens each (the chunker: cut at natural boundaries, lossless, no overlap). */
export function cutText(text: string, maxTokens: number, tokenizer: Tokenizer): string[] {
  return chunkFile({ path: 'reduce-input', text }, 0, tokenizer, { chunkTokens: Math.max(16, maxTokens), overlapTokens: 0 }).map((c) => c.text);
}

/** The input tokens one reduce request may hold besides its words: the run's budget (`maxBatchTokens`, the window minus the reply). */
export function reduceBudget(p: { maxBatchTokens: number; contextWindow?: number; maxOutputTokens?: number }): number {
  return batchBudget({ chunksPerBatch: 1, maxBatchTokens: p.maxBatchTokens, contextWindow: p.contextWindow, maxOutputTokens: p.maxOutputTokens });
}

/** A reduce that must not be sent: what is wrong is in the message (typed by `reason`). */
export class ReduceRefusedError extends ConfigError {
  constructor(
    readonly reason: 'empty-prompt' | 'no-results' | 'no-reduce' | 'budget' | 'coverage',
    message: string,
  ) {
    super(message);
  }
  static readonly isRefusal = (e: unknown): e is ReduceRefusedError => e instanceof ReduceRefusedError;
}

/**
 * Checks that the groups of a level take every input of that level exactly once: at level 1 every
 * level-0 input, above it every partial answer of the level below that succeeded (whole, or every
 * piece `<id>p1…pk` of it once). Throws `ReduceRefusedError('coverage')` naming what is wrong: that
 * is a bug, and nothing is sent.
 */
export function checkLevelCoverage(level: number, groups: readonly GroupRecord[], expected: readonly string[]): void {
  const seen = new Map<string, string>();
  for (const g of groups) {
    for (const id of g.inputs) {
      if (seen.has(id)) throw coverage(level, `input ${id} is in both ${seen.get(id)} and ${g.id}`);
      seen.set(id, g.id);
    }
  }
  const wanted = new Set(expected);
  const pieces = new Map<string, number[]>();
  for (const id of seen.keys()) {
    const m = /^(.*)p(\d+)$/.exec(id);
    const base = m && level > 1 ? m[1] : id;
    if (!wanted.has(base)) throw coverage(level, `input ${id} is not ${level === 1 ? 'a successful result of the run' : `a partial answer of level ${level - 1} that succeeded`}`);
    if (m && level > 1) pieces.set(base, [...(pieces.get(base) ?? []), Number(m[2])]);
    else if (pieces.has(base)) throw coverage(level, `partial answer ${base} is taken both whole and in pieces`);
  }
  for (const [base, ks] of pieces) {
    if (seen.has(base)) throw coverage(level, `partial answer ${base} is taken both whole and in pieces`);
    const sorted = [...ks].sort((a, b) => a - b);
    if (sorted.some((k, i) => k !== i + 1)) throw coverage(level, `the pieces of ${base} are not all taken once (${sorted.join(', ')})`);
  }
  const missing = expected.filter((id) => !seen.has(id) && !pieces.has(id));
  if (missing.length) throw coverage(level, `${missing.length} input(s) are in no group: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
}

function coverage(level: number, why: string): ReduceRefusedError {
  return new ReduceRefusedError('coverage', `The reduce's coverage check failed at level ${level}: ${why}. This is a bug in Batch Prompt; nothing was sent for this level. Remove reduce.jsonl and reduce/ from the run folder to start the reduce again.`);
}

/** The tree an estimate expects (`estimateReduce`). */
export interface ReduceEstimate {
  /** One entry per level, the last being the final request. */
  levels: { level: number; groups: number; inputTokens: number; outputTokens: number }[];
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** The tokens per request the tree was packed for, and the expected size of a (partial) answer. */
  budget: number;
  answerTokens: number;
  assumptions: string[];
}

/** A combined answer's expected size when nothing says otherwise (capped by the reply limit). */
export const DEFAULT_ANSWER_TOKENS = 1000;

/**
 * The requests and tokens of a reduce over results of the given sizes (tokens per file's results, in
 * file order), packed as a real reduce packs them. A (partial) answer is expected to be as long as its
 * inputs, at most `answerTokens` (default 1,000, at most the reply limit). `overhead`: tokens of a
 * request's words (`reduceOverhead`); `inputWrapper`: tokens of one input's wrapper.
 */
export function estimateReduce(p: {
  resultTokens: readonly number[];
  overhead: number;
  inputWrapper: number;
  maxBatchTokens: number;
  contextWindow?: number;
  maxOutputTokens?: number;
  answerTokens?: number;
}): ReduceEstimate {
  const budget = reduceBudget(p);
  const room = Math.max(1, budget - p.overhead);
  const answerTokens = Math.max(1, Math.min(p.answerTokens ?? DEFAULT_ANSWER_TOKENS, p.maxOutputTokens ?? Infinity, Math.floor(room / 2) - p.inputWrapper));
  const out: ReduceEstimate = { levels: [], requests: 0, inputTokens: 0, outputTokens: 0, budget, answerTokens, assumptions: [] };
  // Inputs larger than a request are cut into pieces that fit.
  let items = p.resultTokens.filter((t) => t > 0).flatMap((t) => {
    const pieceRoom = Math.max(1, room - p.inputWrapper);
    const n = Math.ceil(t / pieceRoom);
    return Array.from({ length: n }, (_, i) => (i < n - 1 ? pieceRoom : t - pieceRoom * (n - 1)));
  });
  for (let level = 1; items.length && level <= MAX_LEVELS; level++) {
    const groups = packGroups(
      items.map((t, i) => ({ id: String(i), cost: t + p.inputWrapper })),
      room,
    );
    const sizes = groups.map((g) => g.reduce((n, id) => n + items[Number(id)] + p.inputWrapper, 0));
    const answers = sizes.map((s) => Math.min(s, answerTokens));
    const inputTokens = sizes.reduce((n, s) => n + s + p.overhead, 0);
    const outputTokens = answers.reduce((n, a) => n + a, 0);
    out.levels.push({ level, groups: groups.length, inputTokens, outputTokens });
    out.requests += groups.length;
    out.inputTokens += inputTokens;
    out.outputTokens += outputTokens;
    if (groups.length === 1) break;
    items = answers;
  }
  out.assumptions.push(`Each (partial) combined answer is as long as its inputs, at most ${answerTokens} tokens; requests hold at most ${budget} input tokens (maxBatchTokens, the context window minus the reply).`);
  return out;
}
