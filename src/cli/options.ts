import { parseArgs } from 'util';
import { DEFAULT_CHUNK_OPTIONS } from '../core/plan/chunker';
import { DEFAULT_MAX_FILE_BYTES } from '../core/input/files';
import { globMatcher } from '../core/input/glob';
import { DEFAULT_PACK_OPTIONS } from '../core/plan/packer';
import type { EncodingName } from '../core/plan/tokenizer';
import { isOutputKind, OUTPUT_KINDS, type OutputKind, type Severity } from '../core/output/kind';
import type { RunSettings } from '../core/session/prepare';
import { PROVIDER_KINDS, type ProviderKind } from '../providers/endpoint';
import { defaultBaseUrl } from '../providers/factory';
import { AZURE_DEFAULT_API_VERSION } from '../providers/openaiCompatible';

export const USAGE = `usage:
  batch-prompt plan [options] <paths or globs…> [--json]
  batch-prompt run  [options] (--prompt TEXT | --prompt-file FILE) <paths or globs…>
  batch-prompt resume [options] DIR   continue an interrupted run from its folder (its prompt, model,
                         parameters and plan): chunks that succeeded are not sent again; see "endpoints
                         of a run folder" below
  batch-prompt submit [options] (--prompt TEXT | --prompt-file FILE) <paths or globs…>
                         as run, but through the provider's batch service (openai, anthropic: about
                         half the price, results within 24 h): creates the run folder and the job,
                         prints both, and exits
  batch-prompt status [options] DIR   the batch job's state and request counts
  batch-prompt collect [options] DIR  once the job has ended: writes its results into the run folder,
                         as run does (exit codes as run; 3: still running, nothing written); a job
                         collected earlier is answered from its folder (no key, no request)
  batch-prompt cancel [options] DIR   cancels the batch job at the provider (collect then records what
                         finished)
  batch-prompt reduce [options] DIR (--reduce TEXT | --reduce-file FILE)
                         combines every file's result of a finished (or canceled) run folder into one
                         answer (answer.md, or answer.json): see "reduce" below; the endpoints as for resume
  batch-prompt merge OUT DIR…          merges the run folders of --shard runs into one new run folder OUT
                         (run.json, run.jsonl, chunks/, outputs/, summary.json, report.md, findings.jsonl,
                         findings.sarif or results.jsonl): the shards must share prompt, model and output;
                         a file or chunk recorded in two shards is refused; files are listed in path order
                         and chunk ids renumbered as one unsharded run numbers them (FILE.CHUNK, 1-based)
  batch-prompt apply DIR [--only GLOB]  writes the proposals of an edit run (--output edit) into its files,
                         each atomically and only while the file is still as the run read it (its sha256);
                         prints applied / skipped (changed since the run, failed chunks) / unchanged per
                         file; exit 2 when a file was skipped. Run it from the folder the run was made in.
  --only GLOB            (apply) only the run's files matching GLOB (run-relative paths)
endpoints of a run folder (resume, status, collect, cancel): a run folder names its endpoints, but never
chooses where a key goes nor which variable it is read from. Each is matched (same provider, URL origin
and key variable) to an endpoint of this command line, whose URL, key variable and headers are used:
the --endpoint options and --config FILE given; without them, --provider/--base-url and each provider's
default URL with its default key variable (openai $OPENAI_BASE_URL or https://api.openai.com/v1 with
$OPENAI_API_KEY, anthropic https://api.anthropic.com with $ANTHROPIC_API_KEY, …). So a run made with
--base-url URL resumes with "resume DIR --base-url URL", one made with --config FILE with "--config FILE"
again (run.json never holds header values); the run keeps its recorded model and limits. An endpoint
that matches none is refused before any request, naming the --endpoint that would allow it; a
several-endpoint run goes on with the endpoints matched, and is refused when none is.
model (run, submit; for resume, status, collect and cancel see above):
  --provider NAME        openai (default: any OpenAI-compatible server), azure, anthropic or ollama
  --base-url URL         the endpoint; defaults: openai $OPENAI_BASE_URL or https://api.openai.com/v1,
                         azure $AZURE_OPENAI_ENDPOINT (https://<resource>.openai.azure.com, required),
                         anthropic https://api.anthropic.com, ollama http://127.0.0.1:11434
  --model NAME           model name; azure: the deployment name (openai default $OPENAI_MODEL)
  --api-version V        azure only: the api-version (default ${AZURE_DEFAULT_API_VERSION})
  --context-window N     the model's context window in tokens, when known (ollama: num_ctx never exceeds it)
  --max-output-tokens N  tokens reserved for each reply
  keys are read from the environment, never from an option: openai $OPENAI_API_KEY (optional on
  localhost), azure $AZURE_OPENAI_API_KEY (or $OPENAI_API_KEY), anthropic $ANTHROPIC_API_KEY, ollama none
several endpoints (run, plan; instead of --provider/--model/--base-url): batches go to whichever
endpoint has a free slot within its own limits, the fastest first; one that keeps failing is dropped for
the run; plan estimates each endpoint's part with its own limits and recent latency
  --endpoint SPEC        repeat it, one per endpoint; SPEC is
                         PROVIDER:MODEL[@BASE_URL][,id=ID][,concurrency=N][,rpm=N][,tpm=N][,key-env=VAR]
                         [,api-version=V][,context-window=N][,max-output-tokens=N], e.g.
                         --endpoint openai:gpt-4o-mini@https://host/v1,concurrency=8,key-env=OPENAI_KEY_2
                         or the id of an entry of --config; limits left out are the run's (--concurrency…)
  --drop-after-failures N  an endpoint failing N requests in a row (5xx, timeouts, resets) leaves the
                         run, its batches going to the others (default 3; never the last endpoint)
  --drop-after-wait S    an endpoint whose 429 asks to wait over S seconds leaves the run (default 60)
  --config FILE          endpoints from a JSON file {"endpoints":[{"id","provider","model","baseUrl",
                         "apiKeyEnv","maxConcurrency","requestsPerMinute","tokensPerMinute","headers",…}]};
                         every entry is used unless --endpoint names some; keys come from each "apiKeyEnv";
                         "headers" are sent with each request (the provider's auth header wins over one of
                         the same name), never printed or written to the run folder: resume such a run
                         with --config FILE again
run:
  --out DIR              run folder to create (default .batch-prompt/runs/<run id>)
  --concurrency N        requests in flight at most (default 4)
  --max-retries N        retries of a transient failure (default 3)
  --timeout S            seconds per request (default 120)
  --rpm N / --tpm N      requests / tokens per minute budget
                         (resume: these five and --drop-after-* override the run's recorded values)
  --max-cost USD         (run, resume, submit; plan warns) spend cap in dollars, at the prices of
                         --input-cost/--output-cost or each --config entry's: no request is sent that
                         could take the run's spend (measured, plus the worst case of the requests in
                         flight) past it; the chunks left end canceled with reason budget (exit 2), and
                         "resume DIR --max-cost HIGHER" sends them; the cap counts the run's whole spend,
                         earlier invocations included. Refused for an endpoint without prices.
  --max-tokens N         the same in tokens (input plus output), for endpoints without prices;
                         submit: refused when the job's worst case (its input plus every request's
                         output limit) passes either cap
  --no-cache             send every chunk; by default a chunk whose prompt, model, parameters and text
                         gave a result before is taken from the cache and marked "cached" in run.jsonl
                         (and files' chunks are planned afresh, without the plan cache)
  --cache-dir DIR        the result cache (default: batch-prompt/results in the user's cache folder,
                         $XDG_CACHE_HOME or ~/.cache, %LOCALAPPDATA% on Windows; bounded, oldest evicted)
  --stream               stream the replies and print their text on stdout as it arrives (the run folder
                         holds the same outputs; a reply that breaks off is retried, never recorded)
output (plan, run, submit; a prompt file's front matter "output:" and "schema:" are the default, these win):
  --output KIND          text (default: free text per file), findings (problems on lines: findings.jsonl,
                         findings.sarif in the run folder), json (values of --schema: results.jsonl,
                         and results.csv when the schema is flat) or edit (each file rewritten, in chunks:
                         proposed/<path>, edits.patch and proposals.json in the run folder; no file of
                         yours is written until you run "batch-prompt apply DIR")
  --schema FILE          the JSON Schema each chunk's json value must match (implies --output json)
findings in CI (run, resume, collect, merge):
  --fail-on SEVERITY     error, warning or info: exit 4 when the run has findings of that severity or a
                         more severe one (after the run is recorded and its report written)
  --sarif FILE           also write the run's SARIF 2.1.0 log (findings.sarif) to FILE
  --shard K/N            (run) this invocation takes shard K of N (1 <= K <= N): a file belongs to shard
                         sha256(path) mod N + 1, so N invocations cover every planned file exactly once;
                         each shard is its own run folder (join them with "batch-prompt merge"); a shard
                         holding none of the files exits 0 without a run folder
reduce: one answer for the whole run (run, reduce; plan estimates it):
  --reduce TEXT          after the run, combine every file's successful result into one answer: groups of
                         results that fit one request (--max-batch-tokens, the context window minus the
                         reply) are combined into partial answers, those again, until one remains; written
                         to answer.md in the run folder and printed on stdout; a file or group that failed
                         is named at its top ("Not included"); reduce.jsonl records every group's inputs
  --reduce-file FILE     the same from a prompt file (its front matter "output: json" and "schema:" make
                         answer.json); a prompt file's "reduce:" or "reduceFile:" is the default of run
  --quiet                (run, resume, reduce) print only the combined answer on stdout, no progress
  resume DIR also finishes an interrupted reduce, without resending the groups it had finished
chunks and batches (plan and run):
  --chunk-tokens N       tokens per chunk (default ${DEFAULT_CHUNK_OPTIONS.chunkTokens})
  --overlap N            tokens repeated between chunks (default ${DEFAULT_CHUNK_OPTIONS.overlapTokens})
  --chunks-per-batch N   chunks per request (default ${DEFAULT_PACK_OPTIONS.chunksPerBatch})
  --max-batch-tokens N   tokens per request (default ${DEFAULT_PACK_OPTIONS.maxBatchTokens})
  --encoding NAME        o200k_base (default) or cl100k_base
  --max-file-kb N        skip larger files (default ${DEFAULT_MAX_FILE_BYTES / 1024})
  --no-gitignore         also read files that .gitignore excludes
plan estimate (plan; also --prompt/--prompt-file, --provider, --base-url, --model, the limits above):
  --input-cost USD       price per million input tokens, for the cost estimate
  --output-cost USD      price per million output tokens
  --runs-dir DIR         recent runs to learn latency and output length from (default .batch-prompt/runs)
                         with a prompt and a model, the estimate also counts the chunks already cached
exit codes: 0 every chunk succeeded, 2 some failed or were canceled (recorded, the spend cap's included;
  apply: some file skipped), 1 fatal error,
  3 (collect) job still running,
  4 (--fail-on) findings at or above the severity named (4 wins over 2; 1 wins over both)`;

export interface CliOptions {
  command: 'plan' | 'run' | 'resume' | 'reduce' | 'merge' | 'apply' | 'help' | 'version' | JobCommand;
  inputs: string[];
  json: boolean;
  prompt?: string;
  promptFile?: string;
  provider: ProviderKind;
  /** Empty only for an Azure plan without an endpoint (a run refuses it). */
  baseUrl: string;
  apiVersion?: string;
  model?: string;
  contextWindow?: number;
  maxOutputTokens?: number;
  out?: string;
  concurrency: number;
  maxRetries: number;
  timeoutSeconds: number;
  rpm?: number;
  tpm?: number;
  chunkTokens: number;
  overlap: number;
  chunksPerBatch: number;
  maxBatchTokens: number;
  encoding: EncodingName;
  maxFileBytes: number;
  respectGitignore: boolean;
  useCache: boolean;
  cacheDir?: string;
  /** Prices in dollars per million tokens, for the plan's cost estimate. */
  inputCostPerMTok?: number;
  outputCostPerMTok?: number;
  /** `--max-cost USD` / `--max-tokens N`: the run's spend cap (#17). */
  maxCostUsd?: number;
  maxTokens?: number;
  /** Where the plan looks for recent runs (default .batch-prompt/runs). */
  runsDir?: string;
  /** `--stream`: replies streamed and printed on stdout as they arrive. */
  stream: boolean;
  /** `--endpoint` values (specs or config ids), in order: several endpoints for one run. */
  endpoints: string[];
  /** `--config FILE`: endpoint entries. */
  config?: string;
  /**
   * Run settings given explicitly, in seconds (a resume keeps the recorded value of the others: see
   * `parameterOverrides` in core/session/prepare.ts). The drop
   * thresholds (`--drop-after-failures N`, `--drop-after-wait S`) are only here: left out, the executor's
   * defaults apply.
   */
  /** `--output KIND` (`--schema FILE` alone implies json); absent: the prompt file's, else text. */
  output?: OutputKind;
  /** `--schema FILE`, as given (resolved against the working folder). */
  schema?: string;
  /** `--fail-on SEVERITY`: exit 4 when findings at or above it exist. */
  failOn?: Exclude<Severity, 'hint'>;
  /** `--sarif FILE`: where to write a copy of the run's SARIF. */
  sarif?: string;
  /** `--shard K/N` (1-based K). */
  shard?: { k: number; n: number };
  /** `--reduce TEXT` (#16). */
  reduce?: string;
  /** `--reduce-file FILE` (#16), as given. */
  reduceFile?: string;
  /** `--quiet`: only the combined answer on stdout. */
  quiet: boolean;
  /** `--only GLOB` (apply): the run's files to apply. */
  only?: string;
  explicit: { maxConcurrency?: number; maxRetries?: number; requestTimeoutSeconds?: number; requestsPerMinute?: number; tokensPerMinute?: number; dropAfterFailures?: number; dropAfterWaitSeconds?: number };
}

/** The run's limits and sizes given on this command line, in the names `core/session` takes (see `runParameters`). */
export function runSettingsOf(opts: CliOptions): RunSettings {
  return {
    maxConcurrency: opts.concurrency,
    maxRetries: opts.maxRetries,
    requestTimeoutSeconds: opts.timeoutSeconds,
    requestsPerMinute: opts.rpm,
    tokensPerMinute: opts.tpm,
    chunkTokens: opts.chunkTokens,
    overlapTokens: opts.overlap,
    chunksPerBatch: opts.chunksPerBatch,
    maxBatchTokens: opts.maxBatchTokens,
    dropAfterFailures: opts.explicit.dropAfterFailures,
    dropAfterWaitSeconds: opts.explicit.dropAfterWaitSeconds,
  };
}

/** The batch-job commands (see cli/commands/). */
export type JobCommand = 'submit' | 'status' | 'collect' | 'cancel';
const JOB_COMMANDS: readonly string[] = ['submit', 'status', 'collect', 'cancel'];

/** A mistake in the command line: printed with the usage, exit code 1. */
export class UsageError extends Error {}

function int(name: string, value: string | undefined, min: number, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number of at least ${min}, got "${value}".`);
  return n;
}

function price(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be dollars per million tokens (a number of at least 0), got "${value}".`);
  return n;
}

export function parseCli(argv: string[], env: NodeJS.ProcessEnv): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        prompt: { type: 'string' },
        'prompt-file': { type: 'string' },
        provider: { type: 'string' },
        'base-url': { type: 'string' },
        'api-version': { type: 'string' },
        model: { type: 'string' },
        'context-window': { type: 'string' },
        'max-output-tokens': { type: 'string' },
        out: { type: 'string' },
        concurrency: { type: 'string' },
        'max-retries': { type: 'string' },
        timeout: { type: 'string' },
        rpm: { type: 'string' },
        tpm: { type: 'string' },
        'chunk-tokens': { type: 'string' },
        overlap: { type: 'string' },
        'chunks-per-batch': { type: 'string' },
        'max-batch-tokens': { type: 'string' },
        encoding: { type: 'string' },
        'max-file-kb': { type: 'string' },
        'no-gitignore': { type: 'boolean' },
        'no-cache': { type: 'boolean' },
        'cache-dir': { type: 'string' },
        'input-cost': { type: 'string' },
        'output-cost': { type: 'string' },
        'runs-dir': { type: 'string' },
        'max-cost': { type: 'string' },
        'max-tokens': { type: 'string' },
        stream: { type: 'boolean' },
        endpoint: { type: 'string', multiple: true },
        config: { type: 'string' },
        'drop-after-failures': { type: 'string' },
        'drop-after-wait': { type: 'string' },
        output: { type: 'string' },
        schema: { type: 'string' },
        'fail-on': { type: 'string' },
        sarif: { type: 'string' },
        shard: { type: 'string' },
        reduce: { type: 'string' },
        'reduce-file': { type: 'string' },
        quiet: { type: 'boolean' },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  const [command, ...inputs] = parsed.positionals;
  const cmd = v.help || command === 'help' ? 'help' : v.version ? 'version' : command;
  if (cmd !== 'plan' && cmd !== 'run' && cmd !== 'resume' && cmd !== 'reduce' && cmd !== 'merge' && cmd !== 'apply' && cmd !== 'help' && cmd !== 'version' && !JOB_COMMANDS.includes(cmd)) {
    throw new UsageError(command ? `Unknown command "${command}".` : 'Name a command: plan, run, resume, reduce, submit, status, collect, cancel, merge or apply.');
  }
  const encoding = (v.encoding ?? 'o200k_base') as EncodingName;
  if (encoding !== 'o200k_base' && encoding !== 'cl100k_base') throw new UsageError(`--encoding must be o200k_base or cl100k_base, got "${v.encoding}".`);
  const provider = (v.provider ?? 'openai') as ProviderKind;
  if (!PROVIDER_KINDS.includes(provider)) throw new UsageError(`--provider must be one of ${PROVIDER_KINDS.join(', ')}, got "${v.provider}".`);
  if (v['api-version'] !== undefined && provider !== 'azure') throw new UsageError('--api-version is for --provider azure only.');
  const baseUrl = v['base-url'] ?? (provider === 'openai' ? env.OPENAI_BASE_URL : provider === 'azure' ? env.AZURE_OPENAI_ENDPOINT : undefined) ?? defaultBaseUrl(provider) ?? '';
  const opts: CliOptions = {
    command: cmd as CliOptions['command'],
    inputs,
    json: v.json ?? false,
    prompt: v.prompt,
    promptFile: v['prompt-file'],
    provider,
    baseUrl,
    apiVersion: v['api-version'],
    model: v.model ?? (provider === 'openai' ? env.OPENAI_MODEL : undefined),
    contextWindow: int('context-window', v['context-window'], 256),
    maxOutputTokens: int('max-output-tokens', v['max-output-tokens'], 1),
    out: v.out,
    concurrency: int('concurrency', v.concurrency, 1, 4)!,
    maxRetries: int('max-retries', v['max-retries'], 0, 3)!,
    timeoutSeconds: int('timeout', v.timeout, 1, 120)!,
    rpm: int('rpm', v.rpm, 1),
    tpm: int('tpm', v.tpm, 1),
    chunkTokens: int('chunk-tokens', v['chunk-tokens'], 16, DEFAULT_CHUNK_OPTIONS.chunkTokens)!,
    overlap: int('overlap', v.overlap, 0, DEFAULT_CHUNK_OPTIONS.overlapTokens)!,
    chunksPerBatch: int('chunks-per-batch', v['chunks-per-batch'], 1, DEFAULT_PACK_OPTIONS.chunksPerBatch)!,
    maxBatchTokens: int('max-batch-tokens', v['max-batch-tokens'], 64, DEFAULT_PACK_OPTIONS.maxBatchTokens)!,
    encoding,
    maxFileBytes: int('max-file-kb', v['max-file-kb'], 1, DEFAULT_MAX_FILE_BYTES / 1024)! * 1024,
    respectGitignore: !v['no-gitignore'],
    useCache: !v['no-cache'],
    cacheDir: v['cache-dir'],
    inputCostPerMTok: price('input-cost', v['input-cost']),
    outputCostPerMTok: price('output-cost', v['output-cost']),
    runsDir: v['runs-dir'],
    ...capOptions(v),
    stream: v.stream ?? false,
    endpoints: v.endpoint ?? [],
    config: v.config,
    reduce: v.reduce,
    reduceFile: v['reduce-file'],
    quiet: v.quiet ?? false,
    ...outputOptions(v),
    ...(v.only !== undefined ? { only: v.only } : {}),
    explicit: {
      maxConcurrency: int('concurrency', v.concurrency, 1),
      maxRetries: int('max-retries', v['max-retries'], 0),
      requestTimeoutSeconds: int('timeout', v.timeout, 1),
      requestsPerMinute: int('rpm', v.rpm, 1),
      tokensPerMinute: int('tpm', v.tpm, 1),
      dropAfterFailures: int('drop-after-failures', v['drop-after-failures'], 1),
      dropAfterWaitSeconds: int('drop-after-wait', v['drop-after-wait'], 1),
    },
  };
  if (opts.command === 'merge' && inputs.length < 2) throw new UsageError('Name the run folder to create and the shard run folders to merge: batch-prompt merge OUT DIR1 DIR2 ….');
  checkOutputOptions(opts);
  checkReduceOptions(opts);
  if (opts.only !== undefined && opts.command !== 'apply' && opts.command !== 'help' && opts.command !== 'version') throw new UsageError('--only is for "batch-prompt apply" only.');
  if (opts.only !== undefined && !opts.only.trim()) throw new UsageError('--only needs a glob of the run\'s files, for example --only "src/**/*.ts".');
  if (opts.only !== undefined) {
    try {
      globMatcher(opts.only);
    } catch (e) {
      throw new UsageError(`--only: ${(e as Error).message}.`);
    }
  }
  if (opts.command === 'apply' && inputs.length !== 1) throw new UsageError('Name the folder of the edit run to apply, for example batch-prompt apply .batch-prompt/runs/20261122-140501-a1b2.');
  if (opts.command === 'resume' && inputs.length !== 1) throw new UsageError('Name the run folder to resume, for example .batch-prompt/runs/20261122-140501-a1b2.');
  if ((opts.command === 'status' || opts.command === 'collect' || opts.command === 'cancel') && inputs.length !== 1) throw new UsageError(`Name the run folder of the batch job, for example batch-prompt ${opts.command} .batch-prompt/runs/20261122-140501-a1b2.`);
  if (opts.command === 'plan' || opts.command === 'run' || opts.command === 'submit') {
    if (inputs.length === 0) throw new UsageError('Name at least one file, folder or glob.');
  }
  const several = opts.endpoints.length > 0 || opts.config !== undefined;
  if (several) {
    const single = (['provider', 'model', 'base-url', 'api-version'] as const).filter((k) => v[k] !== undefined);
    if (single.length) throw new UsageError(`--${single[0]} names one endpoint; with --endpoint or --config, describe each endpoint there instead.`);
  }
  // --stream changes only what `run` prints; elsewhere it would be silently ignored, so say why instead.
  if (opts.stream && opts.command !== 'run' && opts.command !== 'help' && opts.command !== 'version') {
    const why: Partial<Record<CliOptions['command'], string>> = {
      plan: 'plan already compares streamed and packed requests in its estimate',
      resume: 'a resume prints its progress, not the replies; read them in the run folder',
      submit: 'a batch job\'s replies come back whole once it has ended',
    };
    throw new UsageError(`--stream is for "batch-prompt run" only: ${why[opts.command] ?? why.submit}.`);
  }
  if (several && opts.command === 'submit') throw new UsageError('submit sends one batch job to one endpoint: name it with --provider and --model, not --endpoint or --config.');
  if (opts.command === 'run' || opts.command === 'submit') {
    if ((opts.prompt === undefined) === (opts.promptFile === undefined)) throw new UsageError('Give exactly one of --prompt TEXT or --prompt-file FILE.');
  }
  if ((opts.command === 'run' || opts.command === 'submit') && !several) {
    if (!opts.model) throw new UsageError(provider === 'openai' ? 'Name the model with --model (or $OPENAI_MODEL).' : provider === 'azure' ? 'Name the deployment with --model.' : 'Name the model with --model.');
    if (!opts.baseUrl) throw new UsageError('Azure needs its endpoint: --base-url https://<resource>.openai.azure.com (or $AZURE_OPENAI_ENDPOINT).');
    try {
      new URL(opts.baseUrl);
    } catch {
      throw new UsageError(`--base-url is not a URL: "${opts.baseUrl}".`);
    }
  }
  if (opts.overlap >= opts.chunkTokens) throw new UsageError('--overlap must be smaller than --chunk-tokens.');
  return opts;
}

/** The output, CI and shard options as given (checked for their spelling here, for their command in `checkOutputOptions`). */
function outputOptions(v: { output?: string; schema?: string; 'fail-on'?: string; sarif?: string; shard?: string }): Pick<CliOptions, 'output' | 'schema' | 'failOn' | 'sarif' | 'shard'> {
  const out: Pick<CliOptions, 'output' | 'schema' | 'failOn' | 'sarif' | 'shard'> = {};
  if (v.output !== undefined) {
    if (!isOutputKind(v.output)) throw new UsageError(`--output must be one of ${OUTPUT_KINDS.join(', ')}, got "${v.output}".`);
    out.output = v.output;
  }
  if (v.schema !== undefined) {
    if (!v.schema.trim()) throw new UsageError('--schema needs a JSON Schema file.');
    if (out.output !== undefined && out.output !== 'json') throw new UsageError(`--schema applies to --output json only, not to --output ${out.output}.`);
    out.schema = v.schema;
  }
  if (v['fail-on'] !== undefined) {
    if (!FAIL_ON.includes(v['fail-on'] as (typeof FAIL_ON)[number])) throw new UsageError(`--fail-on must be one of ${FAIL_ON.join(', ')}, got "${v['fail-on']}".`);
    out.failOn = v['fail-on'] as (typeof FAIL_ON)[number];
  }
  if (v.sarif !== undefined) {
    if (!v.sarif.trim()) throw new UsageError('--sarif needs a file name.');
    out.sarif = v.sarif;
  }
  if (v.shard !== undefined) out.shard = parseShard(v.shard);
  return out;
}

const FAIL_ON = ['error', 'warning', 'info'] as const;

/** `K/N` with whole numbers 1 <= K <= N. */
export function parseShard(text: string): { k: number; n: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const k = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(k) || !Number.isSafeInteger(n) || n < 1 || k < 1 || k > n) {
    throw new UsageError(`--shard must be K/N with whole numbers 1 <= K <= N (for example --shard 2/4), got "${text}".`);
  }
  return { k, n };
}

/** `--max-cost USD` (dollars above 0) and `--max-tokens N` (a whole number of at least 1). */
function capOptions(v: { 'max-cost'?: string; 'max-tokens'?: string }): Pick<CliOptions, 'maxCostUsd' | 'maxTokens'> {
  const out: Pick<CliOptions, 'maxCostUsd' | 'maxTokens'> = {};
  const cost = v['max-cost'];
  if (cost !== undefined) {
    const n = Number(cost);
    if (cost.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--max-cost must be dollars (a number above 0), got "${cost}".`);
    out.maxCostUsd = n;
  }
  const tokens = int('max-tokens', v['max-tokens'], 1);
  if (tokens !== undefined) out.maxTokens = tokens;
  return out;
}

/** Each output option on the commands it is for: said, never silently ignored. */
function checkOutputOptions(opts: CliOptions): void {
  const on = (flag: string, given: unknown, commands: readonly CliOptions['command'][]) => {
    if (given !== undefined && !commands.includes(opts.command)) throw new UsageError(`${flag} is for ${commands.map((c) => `"batch-prompt ${c}"`).join(', ')} only.`);
  };
  on('--output', opts.output, ['plan', 'run', 'submit', 'help', 'version']);
  on('--schema', opts.schema, ['plan', 'run', 'submit', 'help', 'version']);
  on('--fail-on', opts.failOn, ['run', 'resume', 'collect', 'merge', 'help', 'version']);
  on('--sarif', opts.sarif, ['run', 'resume', 'collect', 'merge', 'help', 'version']);
  on('--shard', opts.shard, ['plan', 'run', 'help', 'version']);
  on('--max-cost', opts.maxCostUsd, ['plan', 'run', 'resume', 'submit', 'help', 'version']);
  on('--max-tokens', opts.maxTokens, ['plan', 'run', 'resume', 'submit', 'help', 'version']);
}

/** `--reduce`, `--reduce-file` and `--quiet` on the commands they are for (#16). */
function checkReduceOptions(opts: CliOptions): void {
  const given = opts.reduce !== undefined || opts.reduceFile !== undefined;
  if (opts.reduce !== undefined && opts.reduceFile !== undefined) throw new UsageError('Give --reduce TEXT or --reduce-file FILE, not both.');
  if (opts.reduceFile !== undefined && !opts.reduceFile.trim()) throw new UsageError('--reduce-file needs a file name.');
  if (given && !['run', 'plan', 'reduce', 'help', 'version'].includes(opts.command)) throw new UsageError('--reduce and --reduce-file are for "batch-prompt run", "batch-prompt plan" and "batch-prompt reduce" only (resume finishes the reduce a run folder records).');
  if (opts.quiet && !['run', 'resume', 'reduce', 'help', 'version'].includes(opts.command)) throw new UsageError('--quiet is for "batch-prompt run", "resume" and "reduce" only.');
  if (opts.command === 'reduce') {
    if (opts.inputs.length !== 1) throw new UsageError('Name the run folder to combine, for example batch-prompt reduce .batch-prompt/runs/20261122-140501-a1b2 --reduce "Summarise the architecture".');
    if (!given) throw new UsageError('Give the combining prompt: --reduce TEXT or --reduce-file FILE.');
  }
}

/** Environment variables a provider's key is read from, in order; the first is the one to name. */
export const API_KEY_ENV: Readonly<Record<ProviderKind, readonly string[]>> = {
  openai: ['OPENAI_API_KEY'],
  azure: ['AZURE_OPENAI_API_KEY', 'OPENAI_API_KEY'],
  anthropic: ['ANTHROPIC_API_KEY'],
  ollama: [],
};

/** The provider's key from the environment (empty values ignored), and the variable to name when it is missing. */
export function apiKeyFromEnv(provider: ProviderKind, env: NodeJS.ProcessEnv): { key?: string; envVar?: string } {
  const names = API_KEY_ENV[provider];
  const key = names.map((n) => env[n]).find((v) => v);
  return { key: key || undefined, envVar: names[0] };
}
