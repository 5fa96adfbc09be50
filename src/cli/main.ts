import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectFiles, type SkippedFile } from '../core/input/files';
import type { RunEvent } from '../core/execute/events';
import { Planner, type Plan } from '../core/plan/plan';
import { ResultCache } from '../core/store/resultCache';
import { newRunId, resumeRun, runPlan, smallestWindow, endpointsOf, type RunEndpoint, type RunParameters } from '../core/session/run';
import { describeEndpoints } from '../core/store/report';
import { resolveEndpoints, type CliEndpoint } from './endpoints';
import { configuredEndpoints, describeRecorded, endpointOptionFor, matchRecorded, missingHeaders, shown, type RecordedEndpoint } from './trust';
import { REPORT_FILE, writeRunReport } from '../core/store/runReport';
import { RUN_FILE, RunLockedError, type RunMeta, type RunSummary } from '../core/store/runStore';
import { pendingJob } from '../core/jobs/job';
import { ConfigError } from '../core/execute/errors';
import { UntrustedRootError } from '../core/store/pathGuard';
import type { ChatModel } from '../core/execute/model';
import { getTokenizer, type Tokenizer } from '../core/plan/tokenizer';
import { PROVIDER_KINDS, type EndpointConfig, type ProviderKind } from '../providers/endpoint';
import { createModel, defaultBaseUrl, needsApiKey } from '../providers/factory';
import { originOf } from '../providers/http/http';
import { cancelCommand, collectCommand, selectBatchApi, statusCommand, submitCommand } from './jobs';
import { apiKeyFromEnv, parseCli, USAGE, UsageError, type CliOptions } from './options';
import { ProgressTracker } from '../core/execute/progress';
import { formatDuration } from '../util/format';
import { keyVarOf, withKeyHint } from './keyHints';
import { defaultResultCacheDir } from './userCache';
import type { PlanEstimate } from '../core/estimate/planEstimate';
import { estimateCliPlan, planEndpoints, primaryInfo, renderEstimateText } from './planOutput';
import { definedOnly } from '../util/objects';

const VERSION = '0.1.0';

interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborts the run (Ctrl-C). */
  signal?: AbortSignal;
}

/** Entry of the `batch-prompt` command line. Returns the process exit code (0, 1 fatal, 2 some failed). */
export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parseCli(argv, io.env);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`batch-prompt: ${e.message}\n\n${USAGE}\n`);
      return 1;
    }
    throw e;
  }
  if (opts.command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (opts.command === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (opts.command === 'resume') return resume(opts, io);
  // The endpoints a run folder's may stand for: this command line's, or the providers' defaults.
  const configured = () => configuredEndpoints(opts, io.env, io.cwd);
  if (opts.command === 'status' || opts.command === 'cancel') return (opts.command === 'status' ? statusCommand : cancelCommand)(opts.inputs[0], io, configured);
  if (opts.command === 'collect') {
    const collected = await collectCommand(opts.inputs[0], io, configured);
    return typeof collected === 'number' ? collected : finished(collected.summary, collected.dir, io);
  }
  // A plan given a prompt counts its tokens and looks its chunks up in the cache.
  const prompt = opts.command === 'run' || opts.command === 'submit' || opts.prompt !== undefined || opts.promptFile !== undefined ? await readPrompt(opts, io.cwd) : '';
  const tokenizer = getTokenizer(opts.encoding);
  // The models are chosen before any file is read: a missing key stops the run at once.
  const endpoints = opts.command === 'run' ? await runEndpoints(opts, tokenizer, io) : undefined;
  if (opts.command === 'run' && !endpoints) return 1;
  const model = endpoints?.[0].model;
  let estimated: CliEndpoint[] | undefined;
  try {
    estimated = opts.command === 'plan' ? await planEndpoints(opts, io.cwd) : undefined;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return 1;
  }
  const batchApi = opts.command === 'submit' ? selectBatchApi(endpointOf(opts), io) : undefined;
  if (opts.command === 'submit' && !batchApi) return 1;
  if ((opts.command === 'run' || opts.command === 'submit') && opts.out && (await heldRun(opts.out, io))) return 1;
  const planner = new Planner({
    prompt,
    tokenizer,
    chunk: { chunkTokens: opts.chunkTokens, overlapTokens: opts.overlap },
    pack: { chunksPerBatch: opts.chunksPerBatch, maxBatchTokens: opts.maxBatchTokens, ...(endpoints && fromSpecs(opts) ? smallestWindow(endpoints.map((e) => e.model)) : estimated ? smallestWindow(estimated) : { contextWindow: opts.contextWindow, maxOutputTokens: opts.maxOutputTokens }) },
  });
  // Files stream into the planner one at a time: the corpus is never held in memory.
  const collected = await collectFiles(opts.inputs, { cwd: io.cwd, maxFileBytes: opts.maxFileBytes, respectGitignore: opts.respectGitignore, signal: io.signal, onFile: (f) => planner.add(f) });
  reportSkipped(collected.skipped, io);
  const plan = planner.finish();
  if (opts.command === 'plan') {
    const named = opts.model && opts.baseUrl ? endpointOf(opts) : undefined;
    const primary = estimated ? primaryInfo(estimated) : named && modelInfoOf(opts, named.id);
    const estimate = await estimateCliPlan(plan, opts, { cwd: io.cwd, prompt, tokenizer, model: primary, endpoints: estimated, cache: cacheOf(opts, io), signal: io.signal });
    printPlan(plan, collected.skipped, opts, io, estimate);
    return 0;
  }
  if (plan.totals.chunks === 0) {
    io.stderr.write('batch-prompt: no text to send: every file named was skipped or empty (see above).\n');
    return 1;
  }
  const dir = path.resolve(io.cwd, opts.out ?? path.join('.batch-prompt', 'runs', newRunId()));
  if (batchApi) return submitCommand(plan, { dir, prompt, endpoint: endpointOf(opts), api: batchApi, tokenizer, parameters: parametersOf(opts) }, io);
  // Each endpoint's key variable, named when the provider refuses its key.
  const keyVars = new Map(fromSpecs(opts) ? endpoints!.map((e) => [e.info.id, keyVarOf(e.info.provider as ProviderKind, e.info.apiKeyEnv, io.env)]) : [[model!.id, keyVarOf(opts.provider, undefined, io.env)]]);
  const progress = new ProgressDisplay(io, keyVars);
  const printer = opts.stream ? new StreamPrinter(io) : undefined;
  const { summary } = await runPlan(plan, {
    root: io.cwd,
    dir,
    prompt,
    model: model!,
    modelInfo: fromSpecs(opts) ? endpoints![0].info : modelInfoOf(opts, model!.id),
    ...(fromSpecs(opts) ? { endpoints } : {}),
    tokenizer,
    parameters: parametersOf(opts),
    signal: io.signal,
    onEvent: (e) => (printer?.onEvent(e), progress.onEvent(e)),
    onText: printer && ((batchId, _chunkIds, delta) => printer.onText(batchId, delta)),
    cache: cacheOf(opts, io),
  });
  printer?.end();
  progress.end();
  await writeReport(dir, opts, summary, io);
  return finished(summary, dir, io, keyVars);
}

function parametersOf(opts: CliOptions): RunParameters {
  return {
    maxConcurrency: opts.concurrency,
    maxRetries: opts.maxRetries,
    requestTimeoutMs: opts.timeoutSeconds * 1000,
    requestsPerMinute: opts.rpm,
    tokensPerMinute: opts.tpm,
    chunkTokens: opts.chunkTokens,
    overlapTokens: opts.overlap,
    chunksPerBatch: opts.chunksPerBatch,
    maxBatchTokens: opts.maxBatchTokens,
    dropAfterFailures: opts.explicit.dropAfterFailures,
    dropAfterRetryAfterMs: opts.explicit.dropAfterRetryAfterMs,
  };
}

/** `batch-prompt resume DIR`: the run's own prompt, endpoint, parameters and plan; the key from the environment. */
async function resume(opts: CliOptions, io: Io): Promise<number> {
  const dir = path.resolve(io.cwd, opts.inputs[0]);
  let meta: RunMeta;
  try {
    meta = JSON.parse(await fs.readFile(path.join(dir, RUN_FILE), 'utf8')) as RunMeta;
  } catch {
    io.stderr.write(`batch-prompt: ${dir} is not a run folder (no readable ${RUN_FILE}).\n`);
    return 1;
  }
  const job = await pendingJob(dir);
  if (job) {
    io.stderr.write(`batch-prompt: run ${shown(meta.runId)} is batch job ${shown(job.jobId)} at ${shown(job.provider)}, not collected yet; use "batch-prompt collect" (resuming would send its chunks twice).\n`);
    return 1;
  }
  const m = meta.model ?? { id: '' };
  const provider = m.provider as ProviderKind;
  if (!PROVIDER_KINDS.includes(provider) || !m.model) {
    io.stderr.write(
      m.provider === 'vscode-lm'
        ? `batch-prompt: run ${shown(meta.runId)} used VS Code's Language Model API (${shown(m.id)}); resume it in VS Code with "Batch Prompt: Resume Run".\n`
        : `batch-prompt: ${RUN_FILE} of run ${shown(meta.runId)} does not say which endpoint it used (provider ${shown(m.provider ?? 'missing')}, model ${shown(m.model ?? 'missing')}).\n`,
    );
    return 1;
  }
  const tokenizer = getTokenizer(meta.encoding === 'cl100k_base' ? 'cl100k_base' : 'o200k_base');
  let configured: CliEndpoint[];
  try {
    configured = await configuredEndpoints(opts, io.env, io.cwd);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return 1;
  }
  // Each recorded endpoint goes on as the configured endpoint it matches (provider, origin, key
  // variable): that one's URL, key variable and headers, never the folder's. A several-endpoint run
  // goes on with the ones matched, as it does without an endpoint whose key is missing; none: refused.
  const recorded = endpointsOf(meta);
  const several = recorded.length > 1;
  for (const info of recorded) {
    if (!PROVIDER_KINDS.includes(info.provider as ProviderKind) || !info.model) {
      io.stderr.write(`batch-prompt: ${RUN_FILE} of run ${shown(meta.runId)} does not say how to reach its endpoint ${shown(info.id)} (provider ${shown(info.provider ?? 'missing')}, model ${shown(info.model ?? 'missing')}).\n`);
      return 1;
    }
  }
  const matches = recorded.map((info) => matchRecorded(info, configured));
  const optionFor = (info: RecordedEndpoint) => endpointOptionFor(info) ?? '--endpoint PROVIDER:MODEL@URL';
  const notConfigured = (info: RecordedEndpoint) => `batch-prompt: ${RUN_FILE} of run ${shown(meta.runId)} names the endpoint ${describeRecorded(info)}, which is not one you configured`;
  if (matches.every((c) => !c)) {
    const how = `batch-prompt resume ${opts.inputs[0]} ${recorded.map(optionFor).join(' ')} (or --config FILE).\n`;
    if (!several) io.stderr.write(`${notConfigured(recorded[0])}; nothing was sent. To resume on it, name it: ${how}`);
    else io.stderr.write(`${recorded.map((info) => `${notConfigured(info)}.\n`).join('')}batch-prompt: nothing was sent. To resume run ${shown(meta.runId)}, name its endpoints: ${how}`);
    return 1;
  }
  const recordedConcurrency = (meta.parameters as { maxConcurrency?: number } | undefined)?.maxConcurrency;
  const endpoints: RunEndpoint[] = [];
  const keyVars = new Map<string, string | undefined>();
  recorded.forEach((info, i) => {
    const c = matches[i];
    if (!c) {
      io.stderr.write(`${notConfigured(info)}; resuming without it (to resume on it too, add ${optionFor(info)}).\n`);
      return;
    }
    const kind = info.provider as ProviderKind;
    // Limits cannot move a key: the configured endpoint's when it sets them, else the run's.
    const limits = { maxConcurrency: c.maxConcurrency ?? info.maxConcurrency, requestsPerMinute: c.requestsPerMinute ?? info.requestsPerMinute, tokensPerMinute: c.tokensPerMinute ?? info.tokensPerMinute };
    const endpoint: EndpointConfig = { id: info.id, provider: kind, baseUrl: c.baseUrl, model: info.model!, contextWindow: c.contextWindow ?? info.contextWindow, maxOutputTokens: c.maxOutputTokens ?? info.maxOutputTokens, apiVersion: c.apiVersion ?? info.apiVersion, headers: c.headers };
    const model = missingHeaders(info, c, opts.config, io) ? undefined : selectModel(endpoint, tokenizer, io, { apiKeyEnv: c.apiKeyEnv, connections: opts.explicit.maxConcurrency ?? limits.maxConcurrency ?? recordedConcurrency });
    if (model) {
      endpoints.push({ model, info: definedOnly({ ...info, baseUrl: c.baseUrl, apiKeyEnv: c.apiKeyEnv, ...limits }) });
      keyVars.set(info.id, keyVarOf(kind, c.apiKeyEnv, io.env));
    } else if (several) io.stderr.write(`batch-prompt: resuming without the endpoint ${shown(info.id)}.\n`);
  });
  if (endpoints.length === 0) return 1;
  const model = endpoints[0].model;
  const progress = new ProgressDisplay(io, keyVars);
  let summary: RunSummary;
  try {
    // The run's files are read from this working folder only: a cloned run.json may name any folder.
    const roots = { allowed: [io.cwd], hint: `Run "batch-prompt resume" from the folder the run was made in, if you made it there.` };
    ({ summary } = await resumeRun(dir, { model, ...(meta.endpoints?.length ? { endpoints } : {}), tokenizer, parameters: opts.explicit, signal: io.signal, onEvent: (e) => progress.onEvent(e), cache: cacheOf(opts, io), roots }));
  } catch (e) {
    if (!RunLockedError.is(e) && !UntrustedRootError.is(e)) throw e;
    progress.end();
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return 1;
  }
  progress.end();
  await writeReport(dir, opts, summary, io);
  return finished(summary, dir, io, keyVars);
}

/**
 * True, after saying what to do instead, when `--out DIR` already holds a run: the user most likely
 * meant to continue it (an interrupted run is resumed, a batch job collected), not to start over.
 */
async function heldRun(out: string, io: Io): Promise<boolean> {
  const dir = path.resolve(io.cwd, out);
  if (!(await fs.access(path.join(dir, RUN_FILE)).then(() => true, () => false))) return false;
  const next = (await pendingJob(dir)) ? `check its batch job with "batch-prompt status ${out}" and "batch-prompt collect ${out}"` : `continue it with "batch-prompt resume ${out}" and this command's endpoint options (chunks that succeeded are not sent again)`;
  io.stderr.write(`batch-prompt: ${out} already holds a run; ${next}, or choose another --out.\n`);
  return true;
}

/** The result cache: `--cache-dir`, else the user's cache folder (never the working folder: see `userCache.ts`). */
function cacheOf(opts: CliOptions, io: Io): ResultCache | undefined {
  if (!opts.useCache) return undefined;
  return new ResultCache(opts.cacheDir !== undefined ? path.resolve(io.cwd, opts.cacheDir) : defaultResultCacheDir(io.env, process.platform, os.homedir()));
}

/** Prints the outcome of a run or a resume; the exit code. */
function finished(summary: RunSummary, dir: string, io: Io, keyVars?: ReadonlyMap<string, string | undefined>): number {
  const counts = `${summary.succeeded} succeeded${summary.cached ? ` (${summary.cached} from the cache)` : ''}, ${summary.failed} failed, ${summary.canceled} canceled`;
  io.stdout.write(`Run ${summary.runId}: ${counts} in ${formatDuration(summary.durationMs)} (${summary.requests} requests, ${summary.inputTokens} input / ${summary.outputTokens} output tokens)\n`);
  for (const line of describeEndpoints(summary)) io.stdout.write(`${line}\n`);
  io.stdout.write(`Results: ${dir}\n`);
  const incomplete = summary.files.filter((f) => f.status === 'incomplete');
  if (incomplete.length) {
    io.stdout.write(`Incomplete files (${incomplete.length}): ${incomplete.slice(0, 10).map((f) => f.path).join(', ')}${incomplete.length > 10 ? ', …' : ''}; details in run.jsonl\n`);
  }
  if (summary.fatal) {
    // With one endpoint its refused key is the one to fix (several: each drop line named its own).
    const keyVar = keyVars?.size === 1 ? [...keyVars.values()][0] : undefined;
    io.stderr.write(`batch-prompt: ${withKeyHint(summary.fatal.message, summary.fatal.kind, keyVar, io.env)}\n`);
    return 1;
  }
  return summary.failed + summary.canceled > 0 ? 2 : 0;
}

/** The run folder's report.md, as the editor writes it; a report that cannot be written costs a warning, never the run. */
async function writeReport(dir: string, opts: CliOptions, summary: RunSummary, io: Io): Promise<void> {
  try {
    await writeRunReport(dir, { inputCostPerMTok: opts.inputCostPerMTok, outputCostPerMTok: opts.outputCostPerMTok }, summary);
  } catch (e) {
    io.stderr.write(`batch-prompt: could not write ${REPORT_FILE}: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

/** How run.json names the CLI's endpoint (never a key); also what the plan's cache lookup keys on. */
function modelInfoOf(opts: CliOptions, id: string): RunMeta['model'] {
  return { id, provider: opts.provider, model: opts.model, baseUrl: opts.baseUrl, contextWindow: opts.contextWindow, maxOutputTokens: opts.maxOutputTokens, apiVersion: opts.apiVersion };
}

function endpointOf(opts: CliOptions): EndpointConfig {
  return {
    id: `${originOf(opts.baseUrl)}#${opts.model!}`,
    provider: opts.provider,
    baseUrl: opts.baseUrl,
    model: opts.model!,
    contextWindow: opts.contextWindow,
    maxOutputTokens: opts.maxOutputTokens,
    apiVersion: opts.apiVersion,
  };
}

/**
 * The run's endpoints: those of `--endpoint`/`--config`, or the one of `--provider`/`--model`; undefined
 * after a one-line reason on stderr (a bad spec, a missing key: no request is made).
 */
async function runEndpoints(opts: CliOptions, tokenizer: Tokenizer, io: Io): Promise<RunEndpoint[] | undefined> {
  if (!fromSpecs(opts)) {
    const model = selectModel(endpointOf(opts), tokenizer, io, { connections: opts.concurrency });
    return model && [{ model, info: { id: model.id } }];
  }
  let configs: CliEndpoint[];
  try {
    configs = await resolveEndpoints(opts.endpoints, opts.config, io.cwd);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return undefined;
  }
  const out: RunEndpoint[] = [];
  for (const c of configs) {
    // With several config entries, one without its key can be left out by naming the others.
    const others = opts.config && opts.endpoints.length === 0 ? configs.filter((o) => o !== c).map((o) => `--endpoint ${o.id}`).join(' ') : '';
    const model = selectModel(c, tokenizer, io, { apiKeyEnv: c.apiKeyEnv, connections: c.maxConcurrency ?? opts.concurrency, orElse: others && `, or run without it: ${others}` });
    if (!model) return undefined;
    // run.json records how to rebuild the endpoint: never a key, never a header's value (only its name).
    const { id, provider, model: name, baseUrl, contextWindow, maxOutputTokens, apiVersion, apiKeyEnv, maxConcurrency, requestsPerMinute, tokensPerMinute } = c;
    const headerNames = c.headers && Object.keys(c.headers).length ? Object.keys(c.headers) : undefined;
    out.push({ model, info: definedOnly({ id, provider, model: name, baseUrl, contextWindow, maxOutputTokens, apiVersion, apiKeyEnv, headerNames, maxConcurrency, requestsPerMinute, tokensPerMinute }) });
  }
  return out;
}

/** The run's endpoints come from `--endpoint` / `--config` (not `--provider` / `--model`). */
function fromSpecs(opts: CliOptions): boolean {
  return opts.endpoints.length > 0 || opts.config !== undefined;
}

/**
 * An endpoint's model, or undefined after a one-line reason on stderr (a missing key: no request is
 * made). Its key comes from `apiKeyEnv` or the provider's variable; its connection pool holds
 * `connections` sockets (the endpoint's concurrency).
 */
function selectModel(endpoint: EndpointConfig, tokenizer: Tokenizer, io: Io, { apiKeyEnv, connections, orElse = '' }: { apiKeyEnv?: string; connections?: number; orElse?: string } = {}): ChatModel | undefined {
  const { key, envVar } = apiKeyEnv ? { key: io.env[apiKeyEnv] || undefined, envVar: apiKeyEnv } : apiKeyFromEnv(endpoint.provider, io.env);
  if (needsApiKey(endpoint) && !key) {
    io.stderr.write(`batch-prompt: set ${envVar} in the environment: the ${endpoint.provider} endpoint "${endpoint.id}" at ${originOf(endpoint.baseUrl ?? defaultBaseUrl(endpoint.provider) ?? '')} needs an API key${orElse}.\n`);
    return undefined;
  }
  try {
    return createModel(endpoint, key, { tokenCounter: (text) => tokenizer.count(text), connections });
  } catch (e) {
    if (!ConfigError.is(e)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return undefined;
  }
}

async function readPrompt(opts: CliOptions, cwd: string): Promise<string> {
  const text = opts.prompt ?? (await fs.readFile(path.resolve(cwd, opts.promptFile!), 'utf8').catch(() => {
    throw new UsageError(`Cannot read the prompt file ${opts.promptFile}.`);
  }));
  if (!text.trim()) throw new UsageError('The prompt is empty.');
  return text;
}

function reportSkipped(skipped: SkippedFile[], io: Io): void {
  if (!skipped.length) return;
  io.stderr.write(`Skipped ${skipped.length} file(s), never sent:\n`);
  for (const s of skipped.slice(0, 20)) io.stderr.write(`  ${s.path}: ${s.reason} (${s.detail})\n`);
  if (skipped.length > 20) io.stderr.write(`  … and ${skipped.length - 20} more\n`);
}

function printPlan(plan: Plan, skipped: SkippedFile[], opts: CliOptions, io: Io, estimate: PlanEstimate): void {
  if (opts.json) {
    io.stdout.write(
      `${JSON.stringify(
        {
          totals: plan.totals,
          chunkTokens: plan.chunkTokens,
          files: plan.files.map((f) => ({ path: f.path, tokens: f.tokens, chunks: f.chunks.map(({ id, start, end, startLine, endLine, tokens, overlap }) => ({ id, start, end, startLine, endLine, tokens, overlap })) })),
          batches: plan.batches.map((b) => ({ id: b.id, tokens: b.tokens, chunks: b.chunks.map((c) => c.id) })),
          empty: plan.empty,
          skipped,
          estimate,
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  for (const f of plan.files) io.stdout.write(`${f.path}: ${f.tokens} tokens, ${f.chunks.length} chunk(s)\n`);
  for (const e of plan.empty) io.stdout.write(`${e}: empty, skipped\n`);
  const t = plan.totals;
  io.stdout.write(`\n${t.files} files, ${t.chunks} chunks, ${t.batches} batches = ${t.requests} requests, ${t.inputTokens} input tokens (prompt and wrapping included)\n`);
  io.stdout.write(`\n${renderEstimateText(estimate)}`);
}

/** A redrawn bar on a terminal; one line per finished request otherwise. */
class ProgressDisplay {
  private readonly tracker = new ProgressTracker();
  private lastDraw = 0;

  constructor(
    private readonly io: Io,
    private readonly keyVars: ReadonlyMap<string, string | undefined> = new Map(),
  ) {}

  onEvent(e: RunEvent): void {
    this.tracker.update(e);
    if (e.type === 'endpoint-dropped') {
      this.io.stderr.write(`${this.io.stderr.isTTY ? '\r\x1b[K' : ''}batch-prompt: endpoint ${e.endpoint} dropped for the rest of the run (${e.reason.kind}: ${withKeyHint(e.reason.message, e.reason.kind, this.keyVars.get(e.endpoint), this.io.env)}); ${e.remaining} left${e.others.length ? `: ${e.others.join(', ')}` : ''}\n`);
    }
    if (this.io.stderr.isTTY) {
      const now = Date.now();
      if (now - this.lastDraw > 100 || e.type === 'run-finished') {
        this.lastDraw = now;
        const t = this.tracker;
        const width = 24;
        const filled = t.total ? Math.round((t.done / t.total) * width) : 0;
        this.io.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${t.describe()}`);
      }
      return;
    }
    if (e.type === 'batch-finished') {
      const what = e.ok ? `ok, ${e.inputTokens}→${e.outputTokens} tokens` : `failed: ${e.error?.kind}`;
      this.io.stderr.write(`${e.batchId} (${e.chunkIds.length} chunk${e.chunkIds.length === 1 ? '' : 's'})${e.endpoint ? ` on ${e.endpoint}` : ''} ${what} in ${formatDuration(e.latencyMs)} · ${this.tracker.describe()}\n`);
    } else if (e.type === 'retry-scheduled') {
      // `attempt` numbers the coming send (the first send is attempt 1), so it is retry `attempt - 1`.
      this.io.stderr.write(`${e.batchId}: ${e.reason}, retry ${e.attempt - 1} (attempt ${e.attempt}) in ${formatDuration(e.delayMs)}\n`);
    }
  }

  end(): void {
    if (this.io.stderr.isTTY) this.io.stderr.write('\n');
  }
}

/**
 * `--stream`: each reply's text on stdout as it arrives, under a `── batch ──` line whenever the text
 * of another request (or a new attempt of the same one) begins. Requests in flight interleave there;
 * the run folder has each chunk's output whole.
 */
class StreamPrinter {
  private current?: string;
  private atLineStart = true;

  constructor(private readonly io: Io) {}

  onEvent(e: RunEvent): void {
    if (e.type === 'batch-started' && e.batchId === this.current) this.current = undefined;
  }

  onText(batchId: string, delta: string): void {
    if (batchId !== this.current) {
      this.io.stdout.write(`${this.atLineStart ? '' : '\n'}── ${batchId} ──\n`);
      this.current = batchId;
    }
    this.io.stdout.write(delta);
    this.atLineStart = delta.endsWith('\n');
  }

  end(): void {
    if (!this.atLineStart) this.io.stdout.write('\n');
  }
}

function defaultIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
