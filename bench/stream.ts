// Streamed versus whole replies: a server (in another process) that "generates" each reply at a steady
// pace, a few characters every PIECE_MS, sends it either as it goes (SSE) or whole at the end. Figures:
// time to the first text of a reply (what a live document shows first), time to the whole reply (when
// its chunks are recorded: the same either way, since only a complete reply counts), and client CPU
// per request, over N requests at concurrency C.
import pLimit from 'p-limit';
import { executeRequests } from '../src/core/execute/executor';
import { buildMessages } from '../src/core/plan/protocol';
import { getTokenizer } from '../src/core/plan/tokenizer';
import { OpenAICompatibleModel } from '../src/providers/openaiCompatible';
import { median, oneChunkBatches, startServerProcess, table } from './util';

const N = 64;
const CONCURRENCY = 8;
const PIECE_MS = 5;
const ROUNDS = 3;

interface Figures {
  firstTextMs: number;
  wholeReplyMs: number;
  runSeconds: number;
  cpuMsPerRequest: number;
}

async function measure(model: OpenAICompatibleModel, stream: boolean): Promise<Figures> {
  const sent = new Map<string, number>();
  const firstText: number[] = [];
  const whole: number[] = [];
  const seen = new Set<string>();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await executeRequests(oneChunkBatches(N, 4), {
    prompt: 'Explain.',
    model,
    tokenizer: getTokenizer(),
    maxConcurrency: CONCURRENCY,
    onEvent: (e) => {
      if (e.type === 'batch-started') sent.set(e.batchId, performance.now());
      if (e.type === 'batch-finished' && e.ok) {
        const ms = performance.now() - sent.get(e.batchId)!;
        whole.push(ms);
        if (!stream) firstText.push(ms); // without streaming, the first text is the whole reply
      }
    },
    ...(stream
      ? {
          onText: (batchId: string) => {
            if (seen.has(batchId)) return;
            seen.add(batchId);
            firstText.push(performance.now() - sent.get(batchId)!);
          },
        }
      : {}),
  });
  if (summary.succeeded !== N) throw new Error(`${summary.failed} failed, ${summary.canceled} canceled`);
  const cpu = process.cpuUsage(cpu0);
  return { firstTextMs: median(firstText), wholeReplyMs: median(whole), runSeconds: (performance.now() - t0) / 1000, cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / N };
}

/** The floor: p-limit + fetch reading the same streams with a TextDecoder only (no parsing, no executor). */
async function measureBare(url: string): Promise<Figures> {
  const firstText: number[] = [];
  const whole: number[] = [];
  const limit = pLimit(CONCURRENCY);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    oneChunkBatches(N, 4).map((b) =>
      limit(async () => {
        const sent = performance.now();
        const res = await fetch(`${url}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ model: 'bench', messages: buildMessages('Explain.', b.chunks, true), stream: true, stream_options: { include_usage: true } }),
        });
        const decoder = new TextDecoder();
        let text = '';
        for await (const piece of res.body!) {
          if (!text) firstText.push(performance.now() - sent);
          text += decoder.decode(piece, { stream: true });
        }
        if (!text.includes('[DONE]')) throw new Error('incomplete');
        whole.push(performance.now() - sent);
      }),
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  return { firstTextMs: median(firstText), wholeReplyMs: median(whole), runSeconds: (performance.now() - t0) / 1000, cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / N };
}

export async function runStreamBench(): Promise<void> {
  const server = await startServerProcess(0, PIECE_MS);
  try {
    const model = new OpenAICompatibleModel({ baseUrl: server.url, model: 'bench' });
    await measure(model, false);
    await measure(model, true);
    await measureBare(server.url);
    const runs: Record<'whole' | 'streamed' | 'bare', Figures[]> = { whole: [], streamed: [], bare: [] };
    for (let r = 0; r < ROUNDS; r++) {
      runs.whole.push(await measure(model, false));
      runs.streamed.push(await measure(model, true));
      runs.bare.push(await measureBare(server.url));
    }
    const row = (name: string, f: Figures[]) => [
      name,
      median(f.map((x) => x.firstTextMs)).toFixed(0),
      median(f.map((x) => x.wholeReplyMs)).toFixed(0),
      median(f.map((x) => x.runSeconds)).toFixed(2),
      median(f.map((x) => x.cpuMsPerRequest)).toFixed(3),
    ];
    console.log(`\nStreamed vs whole replies: ${N} one-chunk requests, concurrency ${CONCURRENCY}, a piece of 5 characters every ${PIECE_MS} ms (median of ${ROUNDS} rounds)`);
    console.log(table([['replies', 'first text ms', 'whole reply ms', 'run s', 'client CPU ms/req'], row('whole (stream: false)', runs.whole), row('streamed (SSE)', runs.streamed), row('bare fetch, stream read', runs.bare)]));
  } finally {
    server.stop();
  }
}
