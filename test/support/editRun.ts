// Edit runs (#15) for the unit tests: a fake model that rewrites each chunk's editable part, and a run of
// files through the real planner, executor, run folder and proposals writer.
import { promises as fs } from 'fs';
import * as path from 'path';
import type { ChatRequest, ChatResponse } from '../../src/core/execute/model';
import type { RunEvent } from '../../src/core/execute/events';
import { createPlan, type Plan } from '../../src/core/plan/plan';
import { getTokenizer } from '../../src/core/plan/tokenizer';
import type { SourceFile } from '../../src/core/plan/types';
import { runPlan, type RunParameters } from '../../src/core/session/run';
import { writeRunReport } from '../../src/core/store/runReport';
import type { OutputSpec } from '../../src/core/output/spec';
import { ScriptedModel, type Answer, type SeenChunk } from './scriptedModel';
import { writeFiles } from './tempWorkspace';

export const EDIT: OutputSpec = { kind: 'edit' };
export const tokenizer = getTokenizer();

/** The editable part of a chunk as sent (between `<edit lines="…">` and its `</edit>`), and its lines. */
export function editPartOf(body: string): { text: string; lines: number } {
  const open = /<edit lines="(\d+)-(\d+)">\n/.exec(body);
  if (!open) throw new Error(`no <edit> block in ${JSON.stringify(body.slice(0, 200))}`);
  const from = open.index + open[0].length;
  // The edit block ends at the last `</edit>` before the trailing context (or the end of the body).
  const ctx = body.indexOf('\n<context lines="', from);
  const end = body.lastIndexOf('</edit>', ctx === -1 ? body.length : ctx);
  return { text: body.slice(from, end), lines: Number(open[2]) - Number(open[1]) + 1 };
}

/** What the fake model answers for one chunk: a rewritten part, a full response, or an error. */
export type PartAnswer = (part: string, chunk: SeenChunk, n: number) => string | { result: string; finishReason?: ChatResponse['finishReason']; raw?: boolean };

/**
 * What a model commonly does to the text it copies: LF line endings, no blank lines (nor line break) at
 * the start or end of its answer. The normalisation of answers must undo it.
 */
export function sloppy(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(/^(?:[ \t]*\n)+/, '').replace(/(?:\n[ \t]*)+$/, '');
}

/**
 * A fake model answering each chunk of a request with `rewrite(part)` in a closed `<result>` block;
 * `{ raw: true }` sends `result` as the whole reply (no tags), `finishReason: 'length'` marks it cut off.
 */
export function editModel(rewrite: PartAnswer): ScriptedModel {
  return new ScriptedModel((_r: ChatRequest, n: number, chunks: SeenChunk[]): Answer => {
    let text = '';
    let finishReason: ChatResponse['finishReason'] = 'stop';
    for (const c of chunks) {
      const a = rewrite(editPartOf(c.body).text, c, n);
      if (typeof a === 'string') {
        text += `<result id="${c.id}">\n${a}\n</result>\n`;
      } else {
        text += a.raw ? a.result : `<result id="${c.id}">\n${a.result}\n</result>\n`;
        if (a.finishReason) finishReason = a.finishReason;
      }
    }
    return { text, finishReason };
  });
}

export const EDIT_PARAMETERS: RunParameters = { maxConcurrency: 2, maxRetries: 2, requestTimeoutMs: 10_000, chunkTokens: 300, overlapTokens: 40, chunksPerBatch: 3, maxBatchTokens: 32768 };

export function editPlan(files: readonly SourceFile[], parameters: RunParameters = EDIT_PARAMETERS, prompt = 'Rewrite.'): Plan {
  return createPlan(files, { prompt, tokenizer, chunk: { chunkTokens: parameters.chunkTokens, overlapTokens: parameters.overlapTokens }, pack: { chunksPerBatch: parameters.chunksPerBatch, maxBatchTokens: parameters.maxBatchTokens }, output: EDIT });
}

/** Writes `files` under `ws`, runs an edit over them into `ws/.batch-prompt/runs/<name>` and writes its report and proposals. */
export async function runEdit(ws: string, files: readonly SourceFile[], model: ScriptedModel, options: { name?: string; parameters?: RunParameters; write?: boolean; events?: RunEvent[] } = {}): Promise<{ dir: string; plan: Plan }> {
  if (options.write !== false) await writeFiles(ws, Object.fromEntries(files.map((f) => [f.path, f.text])));
  const parameters = options.parameters ?? EDIT_PARAMETERS;
  const plan = editPlan(files, parameters);
  const dir = path.join(ws, '.batch-prompt', 'runs', options.name ?? 'e1');
  const { summary } = await runPlan(plan, { root: ws, dir, prompt: 'Rewrite.', model, modelInfo: { id: 'fake' }, tokenizer, parameters, output: EDIT, onEvent: (e) => options.events?.push(e) });
  await writeRunReport(dir, {}, summary);
  return { dir, plan };
}

export async function readText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8');
}
