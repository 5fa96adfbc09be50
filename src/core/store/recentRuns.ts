import { formatNumber } from '../../util/format';
import { promises as fs } from 'fs';
import * as path from 'path';
import { DEFAULT_OUTPUT_RATIO, DEFAULT_LATENCY, latencyFromSamples, type LatencyModel } from '../estimate/estimate';
import { runFolders } from './runFolders';
import { readRecords, RUN_FILE, type RunMeta } from './runStore';

/** A measured output rate above this is shown as a bound: an instant local or caching server gives absurd figures. */
const FASTEST_SHOWN = 10_000;

/** One request of a past run, rebuilt from its chunks' `run.jsonl` lines (they share the batch id). */
export interface RequestSample {
  /** The endpoint that served it: the record's `endpoint`, else (a one-endpoint run, or an older record) run.json's model id. */
  endpoint: string;
  latencyMs: number;
  /** Milliseconds to the first streamed text, when the request was streamed and it was recorded. */
  firstTokenMs?: number;
  inputTokens: number;
  outputTokens: number;
  chunks: number;
  /** Tokens of the chunks' text (without prompt or wrapping). */
  chunkTokens: number;
}

/** What an estimate learns from a past run. */
export interface RecentRun {
  runId: string;
  modelId: string;
  prompt: string;
  /** Requests that succeeded (cached and recovered chunks were not sent, so they are left out). */
  requests: RequestSample[];
}

/** Run folders read for an estimate, newest first. */
export const RECENT_RUN_FOLDERS = 20;
/** Matching runs an estimate learns from, newest first. */
export const RECENT_RUNS_USED = 5;

/**
 * The newest run folders under `root` (at most `limit`), each with its requests that succeeded. A
 * folder without a readable `run.json` is skipped; an interrupted run counts with what it recorded.
 */
export async function readRecentRuns(root: string, limit = RECENT_RUN_FOLDERS): Promise<RecentRun[]> {
  const out: RecentRun[] = [];
  for (const dir of await runFolders(root, limit)) {
    let meta: RunMeta;
    try {
      meta = JSON.parse(await fs.readFile(path.join(dir, RUN_FILE), 'utf8')) as RunMeta;
    } catch {
      continue;
    }
    const byBatch = new Map<string, RequestSample>();
    const modelId = meta.model?.id ?? '';
    for (const r of await readRecords(dir).catch(() => [])) {
      if (r.status !== 'succeeded' || r.cached || r.recovered || r.attempts < 1) continue;
      const endpoint = r.endpoint ?? modelId;
      const key = `${endpoint}\n${r.batchId}`;
      const s = byBatch.get(key) ?? { endpoint, latencyMs: r.latencyMs, inputTokens: 0, outputTokens: 0, chunks: 0, chunkTokens: 0 };
      // Every chunk of a request carries the request's latency (and time to first token) and its share of the request's usage.
      s.latencyMs = Math.max(s.latencyMs, r.latencyMs);
      if (r.firstTokenMs !== undefined) s.firstTokenMs = Math.min(s.firstTokenMs ?? Infinity, r.firstTokenMs);
      s.inputTokens += r.inputTokens;
      s.outputTokens += r.outputTokens;
      s.chunks++;
      s.chunkTokens += r.tokens;
      byBatch.set(key, s);
    }
    out.push({ runId: meta.runId ?? path.basename(dir), modelId, prompt: meta.prompt ?? '', requests: [...byBatch.values()] });
  }
  return out;
}

/** The latency model and where it came from (a sentence for the estimate's output). */
export interface LatencySource {
  latency: LatencyModel;
  source: string;
}

/**
 * Latency from the newest runs in which this endpoint served requests (its own requests only: a run on
 * several endpoints counts for each with what each served). The time to the first token is the median
 * recorded one when some of those requests were streamed, else assumed; the defaults, said so, without any.
 */
export function latencyOf(runs: readonly RecentRun[], endpointId: string | undefined): LatencySource {
  const matching = endpointId ? runs.map((r) => r.requests.filter((q) => q.endpoint === endpointId)).filter((q) => q.length > 0).slice(0, RECENT_RUNS_USED) : [];
  const latency = latencyFromSamples(matching.flat(), matching.length);
  if (!latency) {
    const why = endpointId ? `no recent runs of ${endpointId}` : 'no endpoint named';
    return { latency: DEFAULT_LATENCY, source: `${why}: assumed ${DEFAULT_LATENCY.ttftSeconds} s to the first token, then ${DEFAULT_LATENCY.outputTokensPerSecond} output tokens/s` };
  }
  const s = latency.samples!;
  const f = latency.firstTokenSamples;
  const ttft = f ? `median of ${f} streamed request${f === 1 ? '' : 's'}` : 'assumed';
  return {
    latency,
    source: `${s.requests} request${s.requests === 1 ? '' : 's'} of ${s.runs} recent run${s.runs === 1 ? '' : 's'} of ${endpointId}: median ${round(latency.medianSecondsPerRequest!)} s per request; modelled as ${round(latency.ttftSeconds)} s to the first token (${ttft}), then ${latency.outputTokensPerSecond > FASTEST_SHOWN ? `over ${formatNumber(FASTEST_SHOWN)} output tokens/s (too fast to measure: a local or caching server)` : `${formatNumber(latency.outputTokensPerSecond)} output tokens/s`}`,
  };
}

/** Output tokens per chunk token, and where the figure came from. */
export interface OutputRatio {
  ratio: number;
  measured: boolean;
  source: string;
}

/**
 * Output tokens per chunk token seen in the newest runs of this prompt (this endpoint's first, then any
 * endpoint's). Chunk tokens, not request input tokens, are the base: the prompt's share of a request
 * changes with chunks per batch, what the model writes per chunk does not. Without such a run, the
 * default of one output token per chunk token (a reply as long as its text), said so.
 */
export function outputRatioOf(runs: readonly RecentRun[], prompt: string | undefined, endpointId: string | undefined): OutputRatio {
  const samePrompt = prompt ? runs.filter((r) => r.prompt === prompt && r.requests.some((q) => q.chunkTokens > 0)) : [];
  const sameEndpoint = samePrompt.filter((r) => r.requests.some((q) => q.endpoint === endpointId));
  const used = (sameEndpoint.length ? sameEndpoint : samePrompt).slice(0, RECENT_RUNS_USED);
  const requests = used.flatMap((r) => r.requests);
  const chunkTokens = requests.reduce((n, q) => n + q.chunkTokens, 0);
  if (used.length === 0 || chunkTokens === 0) {
    const why = prompt ? 'no recent run of this prompt' : 'no prompt given';
    return { ratio: DEFAULT_OUTPUT_RATIO, measured: false, source: `${why}: assumed ${DEFAULT_OUTPUT_RATIO} output token per chunk token (a reply as long as its text), capped by the reply limit when one is set` };
  }
  const ratio = requests.reduce((n, q) => n + q.outputTokens, 0) / chunkTokens;
  const where = sameEndpoint.length ? `on ${endpointId}` : 'on other endpoints';
  return { ratio, measured: true, source: `${used.length} recent run${used.length === 1 ? '' : 's'} of this prompt ${where}: ${round(ratio)} output tokens per chunk token` };
}

function round(n: number): string {
  return String(Math.round(n * 100) / 100);
}
