// Structured output benchmark (#14): what numbering every line costs on the bench corpus (the findings
// kind), and the requests a run spends on repairs when the model breaks 10% of its values. Figures only.
import * as path from 'path';
import { chunkFile, DEFAULT_CHUNK_OPTIONS } from '../src/core/plan/chunker';
import { getTokenizer } from '../src/core/plan/tokenizer';
import { numberLines } from '../src/core/plan/protocol';
import { packRequests } from '../src/core/plan/packer';
import { executeRequests } from '../src/core/execute/executor';
import type { ChatModel, ChatRequest, ChatResponse } from '../src/core/execute/model';
import type { Chunk } from '../src/core/plan/types';
import { realCorpus } from './corpus';
import { table } from './util';
import { rng } from '../test/support/random';

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Line-number overhead: the same corpus planned as text and as findings (numbered lines, same budget). */
function lineNumberOverhead(): void {
  const tokenizer = getTokenizer('o200k_base');
  const corpus = realCorpus(path.resolve(__dirname, '../..'));
  let plainTokens = 0;
  let plainChunks = 0;
  let numberedTokens = 0;
  let numberedChunks = 0;
  let lines = 0;
  let exactSample = 0;
  let countedSample = 0;
  corpus.files.forEach((f, i) => {
    const plain = chunkFile(f, i, tokenizer, DEFAULT_CHUNK_OPTIONS);
    const numbered = chunkFile(f, i, tokenizer, { ...DEFAULT_CHUNK_OPTIONS, lineNumbers: true });
    plainChunks += plain.length;
    numberedChunks += numbered.length;
    // New text only (overlaps repeat some lines): the cost of the corpus itself.
    plainTokens += plain.reduce((n, c) => n + c.tokens, 0);
    numberedTokens += numbered.reduce((n, c) => n + c.tokens, 0);
    lines += f.text.split('\n').length;
    if (i % 25 === 0) {
      for (const c of numbered) {
        exactSample += tokenizer.count(numberLines(c.text, c.startLine));
        countedSample += c.tokens;
      }
    }
  });
  console.log(`\n## Structured output: line numbers (findings kind), chunkTokens ${DEFAULT_CHUNK_OPTIONS.chunkTokens}`);
  console.log(`corpus: ${corpus.files.length} files, ${(corpus.bytes / 2 ** 20).toFixed(1)} MB, ${lines} lines (node_modules/{${corpus.roots.join(',')}})\n`);
  console.log(table([
    ['', 'text kind (baseline)', 'findings kind', 'overhead'],
    ['chunk tokens', plainTokens, numberedTokens, pct(numberedTokens / plainTokens - 1)],
    ['chunks', plainChunks, numberedChunks, pct(numberedChunks / plainChunks - 1)],
    ['tokens per line', (plainTokens / lines).toFixed(2), (numberedTokens / lines).toFixed(2), `+${((numberedTokens - plainTokens) / lines).toFixed(2)}`],
  ]));
  console.log(`counted vs sent (every 25th file, numbered as sent): counted ${countedSample}, exact ${exactSample} (${pct(countedSample / exactSample - 1)} over: budgets are never passed)`);
}

/**
 * A model that answers every chunk with a findings value and breaks a share of them (a severity that
 * is not one), each answer and each repair drawn anew: the repair succeeds 90% of the time.
 */
class BreakingModel implements ChatModel {
  readonly id = 'breaking';
  readonly supportsSystemMessage = true;
  readonly structuredOutput = false;
  requests = 0;
  repairs = 0;
  private readonly random = rng(14);

  constructor(private readonly breakShare: number) {}

  async complete(request: ChatRequest): Promise<ChatResponse> {
    this.requests++;
    if (request.messages.length > 2) this.repairs++;
    const user = request.messages[1].content;
    const chunks = [...user.matchAll(/<chunk id="([^"]*)" path="[^"]*" lines="(\d+)-\d+">/g)].map((m) => ({ id: m[1], line: Number(m[2]) }));
    const text = chunks
      .map((c) => {
        const severity = this.random() < this.breakShare ? 'fatal' : 'warning';
        return `<result id="${c.id}">\n${JSON.stringify({ findings: [{ line: c.line, severity, message: 'x' }] })}\n</result>`;
      })
      .join('\n');
    return { text, finishReason: 'stop', usage: { inputTokens: 100, outputTokens: 20 } };
  }
}

async function repairs(): Promise<void> {
  const tokenizer = getTokenizer('o200k_base');
  const n = 1000;
  const chunks: Chunk[] = Array.from({ length: n }, (_, i) => {
    const text = `export function f${i}(x: number): number {\n  return x * ${i};\n}\n`;
    return { id: `${i + 1}.1`, path: `src/f${i}.ts`, index: 0, start: 0, end: text.length, startLine: 1, endLine: 3, overlap: 0, tokens: 30, text };
  });
  const rows: (string | number)[][] = [['breaks', 'chunks', 'requests', 'of which repairs', 'repairs per 1,000 chunks', 'invalid-output', 'without repair: failed']];
  for (const share of [0, 0.1]) {
    const model = new BreakingModel(share);
    const batches = packRequests(chunks, 'Find bugs.', tokenizer, { chunksPerBatch: 4, maxBatchTokens: 32768, output: { kind: 'findings' } });
    const summary = await executeRequests(batches, { prompt: 'Find bugs.', model, tokenizer, output: { kind: 'findings' }, maxConcurrency: 8, random: () => 0 });
    // Without the repair every broken first answer would be a failed chunk: the first pass's breaks.
    rows.push([pct(share), n, model.requests, model.repairs, ((model.repairs / n) * 1000).toFixed(0), summary.failed, model.repairs]);
  }
  console.log('\n## Structured output: repairs (findings kind, 4 chunks per request, a fake model breaking values at random)\n');
  console.log(table(rows));
}

export async function runStructuredBench(): Promise<void> {
  lineNumberOverhead();
  await repairs();
}
