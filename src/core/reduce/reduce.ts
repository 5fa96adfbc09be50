/**
 * The reduce step (#16): one answer for a whole run, combined from every file's result without
 * dropping any. Level 1 combines groups of the run's results into partial answers, level 2 combines
 * those, and so on until one group remains: its answer is `answer.md` (or `answer.json`). Every level
 * goes through the run's executor (concurrency, rate limits, retries, several endpoints), each group as
 * one request, and through the result cache (keyed by the reduce prompt and the group's text, so by its
 * inputs' hashes). Each group's answer and each level's groups are recorded in the run folder as they
 * happen (see journal.ts): a kill at any level loses no finished group, and `reduceRun` again (the
 * CLI's `resume`) goes on from there. Before a level is sent, its groups are checked to take every
 * input exactly once; what failed (a chunk of the run, a group after its retries) is named at the top
 * of the answer and never silently absent.
 */
import * as path from 'path';
import type { ChunkOutcome, RunEvent } from '../execute/events';
import { executeRequests, type ExecutorOptions, type Measure } from '../execute/executor';
import type { ChatModel } from '../execute/model';
import { decodeEntries, isStructured, outputKeyOf, type OutputSpec } from '../output/spec';
import { inThread, type Counted } from '../plan/offThreadCounts';
import type { Tokenizer } from '../plan/tokenizer';
import type { Chunk, PackedRequest } from '../plan/types';
import { checkRunRoot, type RootPolicy } from '../store/pathGuard';
import { resultKey, type ResultCache } from '../store/resultCache';
import { checkRunFolder, lockRunFolder, readRecords } from '../store/runStore';
import { executorLimits, smallestWindow, type RunEndpoint, type RunParameters } from '../session/run';
import { ANSWER_JSON, ANSWER_MD, groupFile, readReduceState, ReduceJournal, type GroupRecord, type NotIncluded, type ReduceLine, type ReduceState } from './journal';
import { inputCost, reduceFraming, reduceOverhead, groupText, REDUCE_FRAMING_VERSION } from './framing';
import { readRunResults, type ReduceItem } from './inputs';
import { checkLevelCoverage, cutText, MAX_LEVELS, packGroups, reduceBudget, ReduceRefusedError } from './tree';
import { renderAnswer, reduceShape, type ReduceShape } from './answer';

export interface ReduceOptions {
  /** The reduce prompt; left out, the reduce the folder records goes on (a resume), refused when there is none. */
  prompt?: string;
  /** The reduce's own output (`json` with its schema from the reduce prompt file); text by default. */
  output?: OutputSpec;
  model: ChatModel;
  /** Several endpoints, as for a run (the first is `model`). */
  endpoints?: RunEndpoint[];
  tokenizer: Tokenizer;
  /** Where the reduce's counts are made (the editor: off its thread, `editorRunCounts`); default `tokenizer` in this thread. */
  measure?: Measure;
  /** Overrides of the run's recorded parameters (concurrency, retries, limits); the budgets are the run's. */
  parameters?: Partial<RunParameters>;
  /** Required: the folders the run may have been made in (a cloned run.json may name any root). */
  roots: RootPolicy;
  cache?: ResultCache;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  onText?: ExecutorOptions['onText'];
  /** Each level before it is sent: its number, its groups and whether it is the final request. */
  onLevel?: (level: number, groups: number, final: boolean) => void;
}

export interface ReduceResult {
  /** `interrupted`: canceled, or stopped by a fatal error; the same call again goes on from there. */
  status: 'succeeded' | 'failed' | 'interrupted';
  /** The answer file (absolute), when the reduce succeeded. */
  answerFile?: string;
  /** What `answer.md` / `answer.json` hold. */
  answer?: string;
  notIncluded: NotIncluded[];
  shape: ReduceShape;
  /** Why it failed or stopped. */
  message?: string;
  fatal?: { kind: string; message: string };
}

/** The reduce prompts a front end may check before anything else is done: an empty one is refused. */
export function checkReducePrompt(prompt: string | undefined, output?: OutputSpec): void {
  if (prompt !== undefined && !prompt.trim()) throw new ReduceRefusedError('empty-prompt', 'The reduce prompt is empty: give the question the combined answer must answer.');
  if (output && output.kind === 'findings') throw new ReduceRefusedError('empty-prompt', 'A reduce answers in text or in json (output: json with a schema), not in findings.');
}

/**
 * Combines the results of run folder `dir` into one answer (see the top of this file). Refused
 * (`ReduceRefusedError`) before any request when the prompt is empty, the run has no successful
 * result, no reduce is recorded to go on with, the budgets cannot hold two answers, or a coverage check
 * fails; `UnsafePathError` / `UntrustedRootError` for a folder that is not safe; `RunLockedError` while
 * another process writes it. Takes the run folder's lock while it works.
 */
export async function reduceRun(dir: string, o: ReduceOptions): Promise<ReduceResult> {
  checkReducePrompt(o.prompt, o.output);
  const meta = await checkRunFolder(dir);
  await checkRunRoot(meta.root, o.roots.allowed, o.roots.hint);
  const release = await lockRunFolder(dir);
  try {
    return await reduceLocked(dir, meta, o);
  } finally {
    await release();
  }
}

/** Whether a run folder holds a reduce that has not ended (a resume finishes it). */
export async function unfinishedReduce(dir: string): Promise<boolean> {
  const state = await readReduceState(dir);
  return !!state && !state.answer;
}

async function reduceLocked(dir: string, meta: Awaited<ReturnType<typeof checkRunFolder>>, o: ReduceOptions): Promise<ReduceResult> {
  const journal = new ReduceJournal(dir);
  await journal.closeTorn();
  let state = await readReduceState(dir);
  const prompt = o.prompt ?? state?.prompt;
  if (prompt === undefined) throw new ReduceRefusedError('no-reduce', `${dir} holds no reduce to go on with: give a reduce prompt (batch-prompt reduce DIR --reduce TEXT).`);
  const output = o.prompt !== undefined ? normalized(o.output) : state!.output;
  checkReducePrompt(prompt, output);
  const p = { ...(meta.parameters as unknown as RunParameters), ...o.parameters };
  const models = o.endpoints?.length ? o.endpoints.map((e) => e.model) : [o.model];
  const budget = reduceBudget({ maxBatchTokens: Number(p.maxBatchTokens) || 32768, ...smallestWindow(models) });
  const counted: Counted = o.measure ?? inThread(o.tokenizer);
  const room = budget - (await counted((t) => reduceOverhead(prompt, t, output)));
  if (room < 64) throw new ReduceRefusedError('budget', `A reduce request has ${budget} tokens (maxBatchTokens, the context window minus the reply), and its prompt and instructions take ${budget - room}: no room is left for the results. Shorten the reduce prompt or raise --max-batch-tokens.`);

  const results = await readRunResults(dir, meta, await readRecords(dir, { check: true }), counted, room);
  if (!results.inputs.length) {
    throw new ReduceRefusedError('no-results', `Run ${meta.runId} has no successful result to combine${results.notIncluded.length ? ` (${results.notIncluded.length} chunk(s) did not succeed: resume or retry them first)` : ''}; nothing was sent.`);
  }
  const inputs = results.inputs.map(({ id, path: p_, lines, part, tokens, hash }) => ({ id, path: p_, lines, ...(part ? { part } : {}), tokens, hash }));
  const same = state && state.prompt === prompt && JSON.stringify(state.output ?? null) === JSON.stringify(output ?? null) && state.inputs && JSON.stringify(state.inputs.inputs) === JSON.stringify(inputs);
  if (!same) {
    const at = new Date().toISOString();
    await journal.restart({ type: 'reduce', prompt, ...(output ? { output } : {}), at });
    await journal.append({ type: 'inputs', inputs, notIncluded: results.notIncluded, at });
    state = (await readReduceState(dir))!;
  } else if (state!.answer?.status === 'succeeded' && (await journal.readAnswer(state!.answer.file))) {
    // Done before, over the same results: nothing to send.
    return finishedResult(dir, state!, await journal.readAnswer(state!.answer.file));
  }
  const st = state!;
  const answerFile = output ? ANSWER_JSON : ANSWER_MD;
  /** The items of the level being worked on. */
  let items: ReduceItem[] = results.inputs;
  let expected = items.map((i) => i.id);
  const failedGroups: { group: GroupRecord; error: string }[] = [];
  const groupsById = new Map<string, GroupRecord>();
  for (let level = 1; level <= MAX_LEVELS; level++) {
    let recorded = st.levels.find((l) => l.level === level);
    if (!recorded) {
      const packed = packGroups(items, room);
      if (level > 1 && packed.length > 1 && packed.length >= expected.length) {
        throw new ReduceRefusedError('budget', `The partial answers of level ${level - 1} are too long to combine (${items.length} of them, in ${packed.length} requests of ${budget} tokens): raise --max-batch-tokens, or lower the reply limit.`);
      }
      const cost = new Map(items.map((i) => [i.id, i.cost]));
      const groups = packed.map((ids, g) => ({ id: `R${level}.${g + 1}`, inputs: ids, tokens: ids.reduce((n, id) => n + (cost.get(id) ?? 0), 0) }));
      recorded = { level, final: groups.length === 1, groups };
      checkLevelCoverage(level, recorded.groups, expected);
      await journal.append({ type: 'level', level, final: recorded.final, groups, at: new Date().toISOString() });
      st.levels.push(recorded);
    } else {
      checkLevelCoverage(level, recorded.groups, expected);
    }
    for (const g of recorded.groups) groupsById.set(g.id, g);
    o.onLevel?.(level, recorded.groups.length, recorded.final);
    // A level the next one was recorded after is closed: a group of it that failed stays failed (named), never resent.
    const closed = st.levels.some((l) => l.level > level);
    const outcome = await runLevel(recorded.groups, recorded.final, items, closed, { dir, journal, state: st, prompt, output, o, meta, counted });
    if (outcome.stopped) {
      const shape = reduceShape((await readReduceState(dir))!);
      return { status: 'interrupted', notIncluded: [], shape, message: outcome.stopped.message, ...(outcome.fatal ? { fatal: outcome.fatal } : {}) };
    }
    for (const g of recorded.groups) {
      const line = st.groups.get(g.id);
      if (line?.status === 'failed') failedGroups.push({ group: g, error: `${line.error?.kind ?? 'failed'}: ${oneLine(line.error?.message ?? '')}` });
    }
    const succeeded = recorded.groups.filter((g) => outcome.answers.has(g.id));
    const notIncluded = [...results.notIncluded, ...notIncludedOf(failedGroups, groupsById, results.inputs)];
    if (recorded.final || !succeeded.length) {
      const ok = recorded.final && succeeded.length === 1;
      if (!ok) {
        const why = recorded.final ? `the final request (${recorded.groups[0].id}) failed` : `every group of level ${level} failed`;
        await journal.append({ type: 'answer', status: 'failed', levels: level, groups: groupsById.size, requests: (await readReduceState(dir))!.requests, notIncluded, message: why, at: new Date().toISOString() });
        const shape = reduceShape((await readReduceState(dir))!);
        return { status: 'failed', notIncluded, shape, message: `No combined answer: ${why} (${failedGroups.map((f) => `${f.group.id} ${f.error}`).join('; ')}).` };
      }
      const answer = renderAnswer(outcome.answers.get(succeeded[0].id)!, output, notIncluded, results.inputs.length);
      await journal.write(answerFile, answer);
      const after = (await readReduceState(dir))!;
      await journal.append({ type: 'answer', status: 'succeeded', file: answerFile, levels: level, groups: groupsById.size, requests: after.requests, notIncluded, at: new Date().toISOString() });
      return finishedResult(dir, (await readReduceState(dir))!, answer);
    }
    // The next level's inputs: the partial answers, in group order, cut when one exceeds a request.
    items = (await counted((t) => succeeded.map((g) => partialItems(g.id, outcome.answers.get(g.id)!, output, t, room)))).flat();
    expected = succeeded.map((g) => g.id);
  }
  throw new ReduceRefusedError('budget', `The reduce did not reach one answer in ${MAX_LEVELS} levels; raise --max-batch-tokens.`);
}

function normalized(output: OutputSpec | undefined): OutputSpec | undefined {
  return output && isStructured(output) ? output : undefined;
}

/** A partial answer as an input of the next level (pieces `<id>p<k>` when it does not fit one request). */
function partialItems(id: string, answer: string, output: OutputSpec | undefined, tokenizer: Tokenizer, room: number): ReduceItem[] {
  const text = output ? prettyValue(answer) : answer;
  const tokens = tokenizer.count(text);
  const cost = inputCost({ id, tokens }, tokenizer);
  if (cost <= room) return [{ id, text, tokens, cost }];
  const wrapper = inputCost({ id: `${id}p999`, part: '999 of 999', tokens: 0 }, tokenizer);
  const pieces = cutText(text, room - wrapper, tokenizer);
  return pieces.map((t, k) => {
    const piece = { id: `${id}p${k + 1}`, part: `${k + 1} of ${pieces.length}` };
    const n = tokenizer.count(t);
    return { ...piece, text: t, tokens: n, cost: inputCost({ ...piece, tokens: n }, tokenizer) };
  });
}

/** A structured group's recorded answer (`encodeEntries`) as pretty JSON: its value (several when the executor had to split it). */
export function prettyValue(recorded: string): string {
  const values = decodeEntries(recorded).map((e) => e.value);
  return JSON.stringify(values.length === 1 ? values[0] : values, null, 2);
}

/** The level-0 inputs a group covers, through the partial answers it took. */
function coveredInputs(id: string, groups: ReadonlyMap<string, GroupRecord>): string[] {
  const base = id.replace(/p\d+$/, '');
  const g = groups.get(base);
  if (!g) return [id];
  return [...new Set(g.inputs.flatMap((i) => coveredInputs(i, groups)))];
}

function notIncludedOf(failed: readonly { group: GroupRecord; error: string }[], groups: ReadonlyMap<string, GroupRecord>, inputs: readonly (ReduceItem & { path?: string; lines?: string })[]): NotIncluded[] {
  const byId = new Map(inputs.map((i) => [i.id, i]));
  const out: NotIncluded[] = [];
  for (const f of failed) {
    for (const id of coveredInputs(f.group.id, groups)) {
      const i = byId.get(id);
      if (i) out.push({ path: i.path ?? id, lines: `${i.lines ?? ''}${i.part ? ` (part ${i.part})` : ''}`, reason: `its reduce group ${f.group.id} failed (${f.error})` });
    }
  }
  return out;
}

interface LevelContext {
  dir: string;
  journal: ReduceJournal;
  state: ReduceState;
  prompt: string;
  output?: OutputSpec;
  o: ReduceOptions;
  meta: Awaited<ReturnType<typeof checkRunFolder>>;
  /** Where counts are made (`ReduceOptions.measure`). */
  counted: Counted;
}

/**
 * Sends the groups of a level that have no answer yet (a group answered before a kill is read back),
 * through the cache and the executor, recording each outcome. Returns every group's answer.
 */
async function runLevel(groups: readonly GroupRecord[], final: boolean, items: readonly ReduceItem[], closed: boolean, c: LevelContext): Promise<{ answers: Map<string, string>; stopped?: { message: string }; fatal?: { kind: string; message: string } }> {
  const byId = new Map(items.map((i) => [i.id, i]));
  const answers = new Map<string, string>();
  const todo: PackedRequest<Chunk>[] = [];
  const keys = new Map<string, string>();
  const keyPrompt = `batch-prompt reduce v${REDUCE_FRAMING_VERSION} ${final ? 'final' : 'partial'}\n${c.prompt}`;
  const outputKey = outputKeyOf(c.output);
  for (const g of groups) {
    const line = c.state.groups.get(g.id);
    const onDisk = await c.journal.readGroup(g.id);
    // A group's answer is written only when it succeeded (a new reduce removes the old ones).
    if (onDisk !== undefined) {
      if (line?.status !== 'succeeded') await record(c, g.id, { status: 'succeeded', attempts: 0, inputTokens: 0, outputTokens: 0, answerTokens: await c.counted((t) => t.count(onDisk)) });
      answers.set(g.id, onDisk);
      continue;
    }
    if (closed) continue;
    const text = groupText(g.inputs.map((id) => byId.get(id)!));
    const chunk: Chunk = { id: g.id, path: 'reduce', index: 0, start: 0, end: text.length, startLine: 1, endLine: 1, overlap: 0, tokens: await c.counted((t) => t.count(text)), text };
    if (c.o.cache) {
      const key = resultKey({ prompt: keyPrompt, model: c.meta.model, generation: { maxOutputTokens: c.o.model.maxOutputTokens }, path: 'reduce', text, ...(outputKey ? { output: { ...outputKey, startLine: 1 } } : {}) });
      keys.set(g.id, key);
      const hit = await c.o.cache.get(key);
      if (hit !== undefined) {
        await keep(c, g.id, hit, { status: 'succeeded', attempts: 0, inputTokens: 0, outputTokens: 0, cached: true });
        answers.set(g.id, hit);
        continue;
      }
    }
    todo.push({ id: g.id, chunks: [chunk], tokens: chunk.tokens });
  }
  if (!todo.length) return { answers };
  const p = { ...(c.meta.parameters as unknown as RunParameters), ...c.o.parameters };
  const summary = await executeRequests(todo, {
    prompt: c.prompt,
    model: c.o.model,
    tokenizer: c.o.tokenizer,
    ...(c.o.measure ? { measure: c.o.measure } : {}),
    framing: await c.counted((t) => reduceFraming(c.prompt, t, c.output, final)),
    ...executorLimits(p, c.o.endpoints),
    ...(c.output ? { output: c.output } : {}),
    signal: c.o.signal,
    onEvent: c.o.onEvent,
    onText: c.o.onText,
    onOutcome: async (out: ChunkOutcome) => {
      const base = { attempts: out.attempts, inputTokens: out.inputTokens, outputTokens: out.outputTokens };
      if (out.status === 'succeeded' && out.output !== undefined) {
        await keep(c, out.chunk.id, out.output, { status: 'succeeded', ...base });
        answers.set(out.chunk.id, out.output);
        const key = keys.get(out.chunk.id);
        if (key) await c.o.cache?.put(key, out.output).catch(() => undefined);
      } else {
        await record(c, out.chunk.id, { status: out.status, ...base, ...(out.error ? { error: out.error } : {}) });
      }
    },
  });
  await c.journal.flushed();
  if (summary.fatal) return { answers, stopped: { message: summary.fatal.message }, fatal: summary.fatal };
  if (summary.canceled > 0 || c.o.signal?.aborted) return { answers, stopped: { message: 'Canceled; run it again (or batch-prompt resume) to finish the reduce.' } };
  return { answers };
}

type GroupOutcome = Omit<Extract<ReduceLine, { type: 'group' }>, 'type' | 'id' | 'at'>;

/** A group's answer, written before its journal line (a kill between the two leaves the answer, adopted on the next run). */
async function keep(c: LevelContext, id: string, answer: string, line: GroupOutcome): Promise<void> {
  await c.journal.write(groupFile(id), answer);
  await record(c, id, { ...line, answerTokens: await c.counted((t) => t.count(answer)) });
}

async function record(c: LevelContext, id: string, line: GroupOutcome): Promise<void> {
  const full: ReduceLine = { type: 'group', id, ...line, at: new Date().toISOString() };
  await c.journal.append(full);
  c.state.groups.set(id, full as Extract<ReduceLine, { type: 'group' }>);
}

function finishedResult(dir: string, state: ReduceState, answer: string | undefined): ReduceResult {
  const a = state.answer!;
  return { status: 'succeeded', answerFile: path.join(dir, a.file ?? ANSWER_MD), ...(answer !== undefined ? { answer } : {}), notIncluded: a.notIncluded, shape: reduceShape(state) };
}

function oneLine(s: string): string {
  return s.replace(/\s*\r?\n\s*/g, ' ').trim();
}
