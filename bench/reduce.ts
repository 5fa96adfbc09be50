// Reduce benchmark (#16): the requests and tokens of one combined answer for the bench corpus, beside
// the map stage's. The map stage runs for real (plan, executor, run folder) against an in-process fake
// that answers every chunk with a short canned summary; the reduce runs the real engine against a fake
// that combines its inputs into an answer of at most 300 tokens. Figures only, never assertions.
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ChatModel, ChatRequest, ChatResponse } from '../src/core/execute/model';
import { createPlan } from '../src/core/plan/plan';
import { getTokenizer } from '../src/core/plan/tokenizer';
import { DEFAULT_CHUNK_OPTIONS } from '../src/core/plan/chunker';
import { DEFAULT_PACK_OPTIONS } from '../src/core/plan/packer';
import { estimatePlanReduce } from '../src/core/reduce/estimate';
import { reduceRun } from '../src/core/reduce/reduce';
import { runPlan } from '../src/core/session/run';
import { realCorpus } from './corpus';
import { table } from './util';

const tokenizer = getTokenizer('o200k_base');

/** A fake model counting what it is sent (by the run's tokenizer) and what it answers. */
class CountingModel implements ChatModel {
  readonly id = 'bench';
  readonly supportsSystemMessage = true;
  readonly structuredOutput = false;
  requests = 0;
  inputTokens = 0;
  outputTokens = 0;
  constructor(private readonly answer: (user: string, ids: string[]) => string) {}
  async complete(request: ChatRequest): Promise<ChatResponse> {
    this.requests++;
    const user = request.messages.filter((m) => m.role === 'user').map((m) => m.content).join('\n');
    const ids = [...user.matchAll(/<chunk id="([^"]*)"/g)].map((m) => m[1]);
    const group = /<inputs id="([^"]*)">/.exec(user)?.[1];
    const text = this.answer(user, group ? [group] : ids);
    const inputTokens = request.messages.reduce((n, m) => n + tokenizer.count(m.content), 0);
    const outputTokens = tokenizer.count(text);
    this.inputTokens += inputTokens;
    this.outputTokens += outputTokens;
    return Promise.resolve({ text, finishReason: 'stop', usage: { inputTokens, outputTokens } });
  }
}

/** A short canned summary per chunk: 20 to 80 words, by its id. */
function cannedMap(_user: string, ids: string[]): string {
  return ids.map((id) => `<result id="${id}">\nSummary of chunk ${id}: ${'it defines helpers and exports them. '.repeat(4 + (id.length * 7) % 12)}\n</result>`).join('\n');
}

/** A combined answer: the first 300 tokens' worth of what it was given, as a summary would be. */
function cannedCombine(user: string, ids: string[]): string {
  const words = user.replace(/<[^>]*>/g, ' ').split(/\s+/).filter(Boolean).slice(0, 220);
  return `<result id="${ids[0]}">\n${words.join(' ')}\n</result>`;
}

export async function runReduceBench(): Promise<void> {
  const corpus = realCorpus(path.resolve(__dirname, '../..'));
  const byPath = new Map(corpus.files.map((f) => [f.path, f.text]));
  const ws = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-bench-reduce-'));
  try {
    const prompt = 'Summarise what this file does.';
    const plan = createPlan(corpus.files, { prompt, tokenizer, chunk: DEFAULT_CHUNK_OPTIONS, pack: DEFAULT_PACK_OPTIONS });
    const mapModel = new CountingModel(cannedMap);
    const dir = path.join(ws, 'run');
    const parameters = { maxConcurrency: 16, maxRetries: 0, requestTimeoutMs: 60_000, chunkTokens: DEFAULT_CHUNK_OPTIONS.chunkTokens, overlapTokens: DEFAULT_CHUNK_OPTIONS.overlapTokens, chunksPerBatch: DEFAULT_PACK_OPTIONS.chunksPerBatch, maxBatchTokens: DEFAULT_PACK_OPTIONS.maxBatchTokens };
    await runPlan(plan, { root: ws, read: (p) => Promise.resolve(byPath.get(p)!), dir, prompt, model: mapModel, modelInfo: { id: 'bench' }, tokenizer, parameters });
    const reducePrompt = 'Summarise the architecture of these packages: their parts and how they fit together.';
    const reduceModel = new CountingModel(cannedCombine);
    const result = await reduceRun(dir, { prompt: reducePrompt, model: reduceModel, tokenizer, roots: { allowed: [ws], hint: '' } });
    const mapOutput = mapModel.outputTokens;
    const estimate = estimatePlanReduce(plan, { prompt: reducePrompt, tokenizer, outputRatio: mapOutput / plan.totals.chunkTokens, maxBatchTokens: DEFAULT_PACK_OPTIONS.maxBatchTokens, answerTokens: 300 });
    console.log(`\n## Reduce: one answer for the run (#16), maxBatchTokens ${DEFAULT_PACK_OPTIONS.maxBatchTokens}`);
    console.log(`corpus: ${corpus.files.length} files, ${(corpus.bytes / 2 ** 20).toFixed(1)} MB; map answers: canned summaries (20-80 words a chunk); combine answers: at most ~300 tokens\n`);
    console.log(
      table([
        ['', 'requests', 'input tokens', 'output tokens', 'levels'],
        ['map stage (per chunk)', mapModel.requests, mapModel.inputTokens, mapModel.outputTokens, '-'],
        ['reduce (measured)', reduceModel.requests, reduceModel.inputTokens, reduceModel.outputTokens, result.shape.levels.map((l) => l.groups).join(' → ')],
        ['reduce (estimated by plan)', estimate.requests, estimate.inputTokens, estimate.outputTokens, estimate.levels.map((l) => l.groups).join(' → ')],
      ]),
    );
    console.log(`\nreduce: ${result.status}, ${result.shape.inputs} inputs (files' results), ${result.notIncluded.length} not included; reduce/map requests ${((100 * reduceModel.requests) / mapModel.requests).toFixed(2)}%, input tokens ${((100 * reduceModel.inputTokens) / mapModel.inputTokens).toFixed(1)}%`);
  } finally {
    await fs.rm(ws, { recursive: true, force: true });
  }
}
