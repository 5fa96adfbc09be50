// Several endpoints in one run: the same N one-chunk requests over one, two and four endpoints, each a
// local server in its own process answering after D ms, each endpoint with the same limits
// (concurrency C). Ideal time with k endpoints = N / (k × C) × D; speed-up against one endpoint. Beside
// it, bare p-limit + fetch dealing the same requests round-robin over the same k servers: what this
// machine allows (on a loaded 2-core machine the server processes compete with the client).
import pLimit from 'p-limit';
import { executeRequests } from '../src/core/execute/executor';
import { buildMessages } from '../src/core/plan/protocol';
import { getTokenizer } from '../src/core/plan/tokenizer';
import type { PackedRequest, Chunk } from '../src/core/plan/types';
import { OpenAICompatibleModel } from '../src/providers/openaiCompatible';
import { median, startServerProcess, table } from './util';

const N = 480;
const CONCURRENCY = 4;
const DELAY_MS = 50;
const ROUNDS = 3;
const COUNTS = [1, 2, 4];

function batches(): PackedRequest<Chunk>[] {
  return Array.from({ length: N }, (_, i) => {
    const text = `export function f${i}(x: number): number {\n  return x * ${i};\n}\n`;
    const chunk: Chunk = { id: `${i + 1}.1`, path: `src/f${i}.ts`, index: 0, start: 0, end: text.length, startLine: 1, endLine: 3, overlap: 0, tokens: 20, text };
    return { id: `b${i + 1}`, chunks: [chunk], tokens: 120 };
  });
}

export async function runEndpointsBench(): Promise<void> {
  const servers = await Promise.all(Array.from({ length: Math.max(...COUNTS) }, () => startServerProcess(DELAY_MS)));
  try {
    const all = batches();
    const tokenizer = getTokenizer();
    const models = servers.map((s, i) => new OpenAICompatibleModel({ id: `e${i + 1}`, baseUrl: s.url, model: 'bench' }));
    const once = async (k: number) => {
      const t0 = performance.now();
      const summary = await executeRequests(all, { prompt: 'Explain.', model: models[0], tokenizer, endpoints: models.slice(0, k).map((model) => ({ model, maxConcurrency: CONCURRENCY })) });
      const seconds = (performance.now() - t0) / 1000;
      const share = summary.endpoints?.map((e) => e.requests).join('/') ?? String(summary.requests);
      return { seconds, failed: summary.failed + summary.canceled, share };
    };
    const bare = async (k: number) => {
      const limits = servers.slice(0, k).map(() => pLimit(CONCURRENCY));
      const t0 = performance.now();
      await Promise.all(
        all.map((b, i) =>
          limits[i % k](async () => {
            const res = await fetch(`${servers[i % k].url}/chat/completions`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'bench', messages: buildMessages('Explain.', b.chunks, true), stream: false }),
            });
            const body = (await res.json()) as { choices: { message: { content: string } }[] };
            if (!body.choices[0].message.content) throw new Error('empty');
          }),
        ),
      );
      return (performance.now() - t0) / 1000;
    };
    for (const k of COUNTS) {
      await once(k); // warm up connections and JIT
      await bare(k);
    }
    const rows: (string | number)[][] = [['endpoints', 'seconds', 'ideal', 'speed-up vs 1', 'efficiency', 'bare round-robin s', 'vs bare', 'requests per endpoint (last round)']];
    let base = 0;
    let failures = 0;
    for (const k of COUNTS) {
      const runs = [];
      const bareRuns: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        bareRuns.push(await bare(k));
        runs.push(await once(k));
      }
      failures += runs.reduce((n, x) => n + x.failed, 0);
      const s = median(runs.map((x) => x.seconds));
      const b = median(bareRuns);
      if (k === 1) base = s;
      const ideal = (N / (k * CONCURRENCY)) * (DELAY_MS / 1000);
      rows.push([String(k), s.toFixed(2), ideal.toFixed(2), `${(base / s).toFixed(2)}×`, (ideal / s).toFixed(3), b.toFixed(2), (b / s).toFixed(3), runs[runs.length - 1].share]);
    }
    console.log(`\n## Several endpoints: ${N} one-chunk requests, concurrency ${CONCURRENCY} per endpoint, each server answers after ${DELAY_MS} ms (own process); median of ${ROUNDS}`);
    console.log(table(rows));
    console.log(`goal: speed-up close to the number of endpoints; failed chunks: ${failures}`);
  } finally {
    for (const s of servers) s.stop();
  }
}
