// How close the estimate's time model comes to real runs against local servers (each in its own
// process): N one-chunk requests on one endpoint, on a fast and a slow endpoint together, and streamed.
// A first run calibrates each endpoint's latency as recent runs would (latencyFromSamples over its own
// requests, with the recorded time to first token when streamed); the model then predicts the next run's
// first and last result, which is measured. Beside the streamed prediction, the one with the assumed 0.5 s
// to the first token that the estimate used before first-token times were recorded.
import { estimateModeOver, type EndpointModel } from '../src/core/estimate/endpointEstimate';
import { DEFAULT_TTFT_SECONDS, latencyFromSamples, type ModeInput } from '../src/core/estimate/estimate';
import type { RunEvent } from '../src/core/execute/events';
import { executeRequests } from '../src/core/execute/executor';
import { getTokenizer } from '../src/core/plan/tokenizer';
import { OpenAICompatibleModel } from '../src/providers/openaiCompatible';
import { oneChunkBatches, startServerProcess, table } from './util';

const N = 160;

interface Scenario {
  name: string;
  endpoints: { server: number; concurrency: number }[];
  streamed: boolean;
}

export async function runEstimateBench(): Promise<void> {
  // 0: answers after 40 ms; 1: after 160 ms; 2: streams its reply at 3 ms per 5 characters.
  const servers = await Promise.all([startServerProcess(40), startServerProcess(160), startServerProcess(0, 3)]);
  const scenarios: Scenario[] = [
    { name: 'fast alone, concurrency 4', endpoints: [{ server: 0, concurrency: 4 }], streamed: false },
    { name: 'fast (4) + slow (4)', endpoints: [{ server: 0, concurrency: 4 }, { server: 1, concurrency: 4 }], streamed: false },
    { name: 'fast (2) + slow (8)', endpoints: [{ server: 0, concurrency: 2 }, { server: 1, concurrency: 8 }], streamed: false },
    { name: 'streamed, concurrency 4', endpoints: [{ server: 2, concurrency: 4 }], streamed: true },
  ];
  try {
    const tokenizer = getTokenizer();
    const batches = oneChunkBatches(N, 4);
    let streamedCalibration: { measured: EndpointModel; assumed: EndpointModel; outputTokens: number; inputTokens: number; url: string } | undefined;
    const rows: (string | number)[][] = [['scenario', 'predicted last s', 'measured last s', 'measured ÷ predicted', 'predicted first s', 'measured first s', 'with ttft assumed (first, or last)']];
    for (const sc of scenarios) {
      const models = sc.endpoints.map((e, i) => new OpenAICompatibleModel({ id: `e${i + 1}`, baseUrl: servers[e.server].url, model: 'bench' }));
      const once = async () => {
        const events: RunEvent[] = [];
        const t0 = performance.now();
        let first: number | undefined;
        await executeRequests(batches, {
          prompt: 'Explain.',
          model: models[0],
          tokenizer,
          maxConcurrency: sc.endpoints[0].concurrency,
          endpoints: models.length > 1 ? models.map((model, i) => ({ model, maxConcurrency: sc.endpoints[i].concurrency })) : undefined,
          onEvent: (e) => {
            events.push(e);
            if (e.type === 'chunk-finished' && first === undefined) first = (performance.now() - t0) / 1000;
          },
          ...(sc.streamed ? { onText: () => undefined } : {}),
        });
        return { seconds: (performance.now() - t0) / 1000, first: first ?? 0, finished: events.filter((e): e is Extract<RunEvent, { type: 'batch-finished' }> => e.type === 'batch-finished' && e.ok) };
      };
      const calibration = await once();
      const endpointsOf = (assumeTtft: boolean): EndpointModel[] =>
        models.map((m, i) => {
          const mine = calibration.finished.filter((f) => (f.endpoint ?? m.id) === m.id).map((f) => ({ latencyMs: f.latencyMs, outputTokens: f.outputTokens, ...(assumeTtft ? {} : { firstTokenMs: f.firstTokenMs }) }));
          const latency = latencyFromSamples(mine, 1)!;
          // As the estimate did before first-token times were recorded: 0.5 s (or half the median request).
          return { id: m.id, latency: assumeTtft ? latencyFromSamples(mine.map((s) => ({ latencyMs: s.latencyMs, outputTokens: s.outputTokens })), 1)! : latency, limits: { concurrency: sc.endpoints[i].concurrency } };
        });
      const input: ModeInput = {
        chunksPerBatch: 1,
        streamed: sc.streamed,
        chunks: N,
        requests: N,
        inputTokens: calibration.finished.reduce((n, f) => n + f.inputTokens, 0),
        promptTokensPerRequest: 0,
        outputTokens: calibration.finished.reduce((n, f) => n + f.outputTokens, 0),
      };
      const predicted = estimateModeOver(input, endpointsOf(false));
      const assumed = estimateModeOver(input, endpointsOf(true));
      const measured = await once();
      if (sc.streamed) streamedCalibration = { measured: endpointsOf(false)[0], assumed: endpointsOf(true)[0], outputTokens: input.outputTokens, inputTokens: input.inputTokens, url: servers[sc.endpoints[0].server].url };
      rows.push([
        sc.name,
        predicted.lastResultSeconds.toFixed(2),
        measured.seconds.toFixed(2),
        (measured.seconds / predicted.lastResultSeconds).toFixed(2),
        predicted.firstResultSeconds.toFixed(3),
        measured.first.toFixed(3),
        sc.streamed ? assumed.firstResultSeconds.toFixed(3) : '-',
      ]);
    }
    // The same chunks packed 4 per request, not streamed, predicted from the streamed run's requests: the
    // recorded first-token time splits each request into waiting and generating, which is what a request
    // with four chunks' output needs; the assumed one mis-splits it.
    const c = streamedCalibration!;
    const packed = Array.from({ length: N / 4 }, (_, i) => ({ id: `p${i + 1}`, chunks: batches.slice(i * 4, i * 4 + 4).flatMap((b) => b.chunks), tokens: batches.slice(i * 4, i * 4 + 4).reduce((n, b) => n + b.tokens, 0) }));
    const t0 = performance.now();
    await executeRequests(packed, { prompt: 'Explain.', model: new OpenAICompatibleModel({ id: 'e1', baseUrl: c.url, model: 'bench' }), tokenizer, maxConcurrency: 4 });
    const seconds = (performance.now() - t0) / 1000;
    const input: ModeInput = { chunksPerBatch: 4, streamed: false, chunks: N, requests: N / 4, inputTokens: c.inputTokens, promptTokensPerRequest: 0, outputTokens: c.outputTokens };
    const withRecorded = estimateModeOver(input, [c.measured]).lastResultSeconds;
    const withAssumed = estimateModeOver(input, [c.assumed]).lastResultSeconds;
    rows.push(['packed 4, from the streamed run', withRecorded.toFixed(2), seconds.toFixed(2), (seconds / withRecorded).toFixed(2), '-', '-', `last ${withAssumed.toFixed(2)} (÷ ${(seconds / withAssumed).toFixed(2)})`]);
    console.log(`\n## Estimate against runs: ${N} one-chunk requests; servers answer after 40 ms (fast), 160 ms (slow), or stream at 3 ms per 5 characters`);
    console.log(table(rows));
    console.log(`assumed ttft: ${DEFAULT_TTFT_SECONDS} s, or half the median request when that is shorter (the estimate before first-token times were recorded)`);
  } finally {
    for (const s of servers) s.stop();
  }
}
