// Executor efficiency: N one-chunk requests at concurrency C against a local server answering after
// D ms (in another process), beside bare p-limit + fetch sending the same requests.
// Efficiency = ideal time (N / C × D) / measured time. Client CPU per request from process.cpuUsage().
import pLimit from 'p-limit';
import { executeRequests } from '../src/core/execute/executor';
import { buildMessages } from '../src/core/plan/protocol';
import { getTokenizer } from '../src/core/plan/tokenizer';
import { OpenAICompatibleModel } from '../src/providers/openaiCompatible';
import { median, oneChunkBatches, startServerProcess, table } from './util';

const N = 2000;
const CONCURRENCY = 16;
const DELAY_MS = 50;
const ROUNDS = 5;

interface Figures {
  seconds: number;
  cpuMsPerRequest: number;
}

async function measure(fn: () => Promise<void>): Promise<Figures> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / N };
}

export async function runExecutorBench(): Promise<void> {
  const server = await startServerProcess(DELAY_MS);
  try {
    const all = oneChunkBatches(N);
    const tokenizer = getTokenizer();
    const model = new OpenAICompatibleModel({ baseUrl: server.url, model: 'bench' });
    const url = `${server.url}/chat/completions`;

    const bare = async () => {
      const limit = pLimit(CONCURRENCY);
      await Promise.all(
        all.map((b) =>
          limit(async () => {
            const res = await fetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'bench', messages: buildMessages('Explain.', b.chunks, true), stream: false }),
            });
            const body = (await res.json()) as { choices: { message: { content: string } }[] };
            if (!body.choices[0].message.content) throw new Error('empty');
          }),
        ),
      );
    };
    let failures = 0;
    const ours = async () => {
      const s = await executeRequests(all, { prompt: 'Explain.', model, tokenizer, maxConcurrency: CONCURRENCY });
      failures += s.failed + s.canceled;
    };
    // Warm up both paths (connections, JIT, tokenizer), then alternate rounds.
    await measure(bare);
    await measure(ours);
    const bareRuns: Figures[] = [];
    const ourRuns: Figures[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      bareRuns.push(await measure(bare));
      ourRuns.push(await measure(ours));
    }
    const ideal = (N / CONCURRENCY) * (DELAY_MS / 1000);
    const row = (name: string, runs: Figures[]) => {
      const s = median(runs.map((x) => x.seconds));
      return [name, s.toFixed(2), (ideal / s).toFixed(3), median(runs.map((x) => x.cpuMsPerRequest)).toFixed(3)];
    };
    const b = row('bare p-limit + fetch (baseline)', bareRuns);
    const o = row('executeRequests', ourRuns);
    console.log(`\n## Executor: ${N} one-chunk requests, concurrency ${CONCURRENCY}, server answers after ${DELAY_MS} ms (own process); median of ${ROUNDS}`);
    console.log(table([['', 'seconds', 'efficiency', 'client CPU ms/request'], b, o]));
    console.log(`ideal ${ideal.toFixed(2)} s; executor/bare efficiency ${(Number(o[2]) / Number(b[2])).toFixed(3)}; CPU ratio ${(Number(o[3]) / Number(b[3])).toFixed(2)}× (target ≤ 1.3×); failed chunks: ${failures}`);
  } finally {
    server.stop();
  }
}
