import { BadReplyError, ConfigError, InvalidRequestError, ModelNotFoundError, StructuredModeRefusedError, TransientError, TruncatedError, type BatchPromptError } from '../core/execute/errors';
import type { ChatMessage, ChatModel, ChatRequest, ChatResponse, CompleteOptions } from '../core/execute/model';
import { credentialHeaderValues, originOf, postJson, postJsonStream, requestHeaders, retryAfterMs, type HttpReply, type StreamReply } from './http/http';
import { ndjsonLines } from './http/streamParse';
import type { PoolOptions } from './http/pool';
import { redactSecrets } from '../util/redact';

export const OLLAMA_DEFAULT_BASE_URL = 'http://127.0.0.1:11434';
/** `num_ctx` is rounded up to a multiple of this: fewer distinct sizes, fewer model reloads. */
export const NUM_CTX_STEP = 1024;
/** A reply whose `prompt_eval_count` is below this share of the request's low estimate was cut. */
export const TRUNCATION_RATIO = 0.85;
/** Ollama's smallest context (its oldest default): a request whose high estimate fits in it cannot have been cut. */
export const MIN_OLLAMA_CONTEXT = 2048;

export interface OllamaOptions extends PoolOptions {
  /** Endpoint id for records and logs. */
  id?: string;
  /** The server root, default `http://127.0.0.1:11434`; `/api/chat` is appended. */
  baseUrl?: string;
  model: string;
  /** The most `num_ctx` may be (the model's or the machine's limit); `num_ctx` is never sent above it. */
  contextWindow?: number;
  /** Sent as `options.num_predict`, and reserved for the reply in `num_ctx`. */
  maxOutputTokens?: number;
  temperature?: number;
  headers?: Record<string, string>;
  /**
   * Counts tokens of a text (the run's tokenizer), for a request that does not carry its count
   * (`ChatRequest.inputTokens`). Ollama's models use other tokenizers, so the count is widened by
   * margins (see `estimateRequestTokens`); without it, or when it answers undefined (the editor, whose
   * thread must not load the encoding), a character heuristic is used.
   */
  tokenCounter?: (text: string) => number | undefined;
}

/** Tokens of a request, three ways: `high` sizes `num_ctx` (should never be short), `low` judges truncation (should never be long). */
export interface TokenEstimate {
  central: number;
  high: number;
  low: number;
}

/** Chat template tokens per message (role markers, separators), and for the whole prompt. */
const PER_MESSAGE = 8;
const PER_PROMPT = 32;

/**
 * Estimates a request's tokens in Ollama's model. With a counter: `high` = count × 1.3 (tokenizers with
 * smaller vocabularies, Llama 2's or Mistral's, need up to ~30% more tokens than o200k on code),
 * `low` = count × 0.8. Without: ASCII characters at 3 (high) / 7 (low) characters a token (prose and
 * code run at 3–4.5), other characters at 1.5 (high) / 0.2 (low) tokens each (CJK is about one token a
 * character, Cyrillic or Greek three to five characters a token).
 */
export function estimateRequestTokens(messages: readonly ChatMessage[], counter?: (text: string) => number | undefined, counted?: number): TokenEstimate {
  const overhead = PER_PROMPT + PER_MESSAGE * messages.length;
  const n = counted ?? (counter ? countAll(messages, counter) : undefined);
  if (n !== undefined) {
    return { central: n + overhead, high: Math.ceil(n * 1.3) + overhead, low: Math.floor(n * 0.8) };
  }
  let ascii = 0;
  let other = 0;
  for (const m of messages) {
    for (let i = 0; i < m.content.length; i++) {
      if (m.content.charCodeAt(i) < 0x80) ascii++;
      else other++;
    }
  }
  return {
    central: Math.ceil(ascii / 4 + other) + overhead,
    high: Math.ceil(ascii / 3 + other * 1.5) + overhead,
    low: Math.floor(ascii / 7 + other / 5),
  };
}

/** The messages' tokens by `counter`, or undefined when it cannot count one of them. */
function countAll(messages: readonly ChatMessage[], counter: (text: string) => number | undefined): number | undefined {
  let n = 0;
  for (const m of messages) {
    const k = counter(m.content);
    if (k === undefined) return undefined;
    n += k;
  }
  return n;
}

/**
 * Ollama's native chat API (`POST /api/chat`, no key; `stream: true` only when the caller passes
 * `onText`, whose reply is newline-delimited JSON and judged by the same truncation rule).
 *
 * Ollama's default context is 2,048–4,096 tokens and it silently cuts longer prompts, still answering
 * 200 (ollama/ollama#3839, #8099). So each request carries `options.num_ctx` sized for it: the high
 * estimate of its tokens plus room for the reply (`maxOutputTokens`, else as many tokens as the
 * request, at least 1,024), rounded up to a multiple of 1,024 and capped by `contextWindow`. `num_ctx`
 * never shrinks within one model instance: Ollama reloads the model whenever it changes.
 *
 * Truncation rule: a reply is a `TruncatedError`, never a success, when it reports a
 * `prompt_eval_count` below 85% of the request's low estimate. The low estimate undercounts real
 * tokens (margins above), so an uncut prompt stays above it, while a cut one keeps at most `num_ctx`
 * tokens (recent Ollama keeps about half of it), far below. Not judged: a reply without
 * `prompt_eval_count` (old Ollama omits it when the whole prompt came from its cache), and a request
 * whose high estimate fits in `MIN_OLLAMA_CONTEXT` (no context is smaller; small requests are where a
 * template's overhead makes estimates least reliable).
 *
 * Structured output: `responseSchema` goes as `format: <schema>` (Ollama 0.5.0 and later). An Ollama that
 * refuses it (older ones cannot read an object there) rejects with `StructuredModeRefusedError`.
 */
export class OllamaModel implements ChatModel {
  readonly id: string;
  readonly contextWindow?: number;
  readonly maxOutputTokens?: number;
  readonly supportsSystemMessage = true;
  readonly structuredOutput = true;
  private readonly url: string;
  private readonly origin: string;
  /** Largest `num_ctx` sent so far. */
  private numCtx = 0;

  constructor(private readonly options: OllamaOptions) {
    const base = (options.baseUrl ?? OLLAMA_DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.origin = originOf(base);
    this.id = options.id ?? `${this.origin}#${options.model}`;
    this.contextWindow = options.contextWindow;
    this.maxOutputTokens = options.maxOutputTokens;
    this.url = `${base}/api/chat`;
  }

  async complete(request: ChatRequest, { signal, onText, idleTimeoutMs }: CompleteOptions): Promise<ChatResponse> {
    const est = estimateRequestTokens(request.messages, this.options.tokenCounter, request.inputTokens);
    const maxOutput = request.maxOutputTokens ?? this.options.maxOutputTokens;
    const numCtx = this.sizeNumCtx(est, maxOutput);
    this.numCtx = numCtx;
    const modelOptions: Record<string, number> = { num_ctx: numCtx };
    if (maxOutput) modelOptions.num_predict = maxOutput;
    const temperature = request.temperature ?? this.options.temperature;
    if (temperature !== undefined) modelOptions.temperature = temperature;
    const payload: Record<string, unknown> = { model: this.options.model, messages: request.messages.map((m) => ({ role: m.role, content: m.content })), stream: !!onText, options: modelOptions };
    if (request.responseSchema) payload.format = request.responseSchema.schema;
    const secrets = credentialHeaderValues(this.options.headers);
    const headers = requestHeaders(this.options.headers, {});
    let reply: HttpReply | StreamReply;
    try {
      reply = onText
        ? await postJsonStream(this.url, payload, headers, signal, { accept: 'application/x-ndjson', redact: secrets, idleTimeoutMs, pool: this.options.pool })
        : await postJson(this.url, payload, headers, signal, secrets, this.options.pool);
    } catch (e) {
      // Network failures come back as status-less transient errors: say what to do about them.
      if (TransientError.is(e) && e.status === undefined) {
        throw new TransientError(`Ollama does not answer at ${this.origin}: start it with \`ollama serve\` (or fix the base URL). ${e.message}`, undefined, { cause: e });
      }
      throw e;
    }
    const failure = (r: HttpReply): BatchPromptError => {
      const e = ollamaError(r, this.options.model, secrets);
      if (request.responseSchema && (InvalidRequestError.is(e) || TransientError.is(e))) return ollamaStructuredRefusal(r, secrets) ?? e;
      return e;
    };
    if ('ok' in reply) {
      if (!reply.ok) throw failure(reply.reply);
      return readOllamaStream(reply.text, onText!, est, numCtx, secrets);
    }
    if (reply.status < 200 || reply.status >= 300) throw failure(reply);
    return parseOllamaChat(reply, est, numCtx);
  }

  private sizeNumCtx(est: TokenEstimate, maxOutput: number | undefined): number {
    const reply = maxOutput ?? Math.max(1024, est.central);
    let n = Math.ceil((est.high + reply) / NUM_CTX_STEP) * NUM_CTX_STEP;
    n = Math.max(n, this.numCtx);
    return this.options.contextWindow ? Math.min(n, this.options.contextWindow) : n;
  }
}

/** Maps an Ollama error reply (`{ "error": "..." }`) to a typed error. */
export function ollamaError(reply: HttpReply, model: string, secrets: readonly string[] = []): BatchPromptError {
  const b = reply.body as { error?: unknown } | undefined;
  const message = typeof b?.error === 'string' ? b.error : undefined;
  const status = reply.status;
  const detail = redactSecrets((message ?? reply.text.slice(0, 200)) || `HTTP ${status}`, secrets);
  const opts = { status };
  if (status === 404) {
    // Ollama answers 404 `model "x" not found, try pulling it first`; a 404 without such a body means
    // there is no /api/chat here (another server, or a base URL ending in /v1).
    if (/model\b.*\bnot found|not found, try pulling/i.test(message ?? '')) {
      return new ModelNotFoundError(`Ollama has no model "${model}"; run \`ollama pull ${model}\` (HTTP 404): ${detail}`, opts);
    }
    return new ConfigError(`No Ollama chat API at this URL (HTTP 404 for /api/chat); the base URL must be the server root, e.g. ${OLLAMA_DEFAULT_BASE_URL}: ${detail}`, opts);
  }
  if (status === 408 || status === 429 || status >= 500) return new TransientError(`Ollama failed (HTTP ${status}): ${detail}`, retryAfterMs(reply.headers), opts);
  return new InvalidRequestError(`Ollama refused the request (HTTP ${status}): ${detail}`, opts);
}

/**
 * The `StructuredModeRefusedError` of a reply refusing `format` with a schema: before 0.5.0, 400
 * `json: cannot unmarshal object into Go struct field ChatRequest.format of type string`; 0.5.2,
 * `invalid format: expected "json" or a JSON schema`; a schema it cannot turn into a grammar, 500
 * `invalid JSON schema in format`. Undefined for any other reply.
 */
export function ollamaStructuredRefusal(reply: HttpReply, secrets: readonly string[] = []): StructuredModeRefusedError | undefined {
  const status = reply.status;
  if (status !== 400 && status !== 422 && status !== 500) return undefined;
  const b = reply.body as { error?: unknown } | undefined;
  const message = typeof b?.error === 'string' ? b.error : reply.text.slice(0, 500);
  if (!/Request\.format\b|invalid format|json schema|\bgrammar\b/i.test(message)) return undefined;
  return new StructuredModeRefusedError(`Ollama refused the structured-output format (a JSON schema needs Ollama 0.5 or later) (HTTP ${status}): ${redactSecrets(message.slice(0, 300), secrets)}`, { status });
}

interface OllamaChatBody {
  message?: { role?: string; content?: string };
  done?: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
  error?: string;
}

/** Reads an `/api/chat` reply, judging truncation against the request's estimate (see `OllamaModel`). */
export function parseOllamaChat(reply: HttpReply, est: TokenEstimate, numCtx: number): ChatResponse {
  const body = reply.body as OllamaChatBody | undefined;
  const content = body?.message?.content;
  if (typeof content !== 'string') {
    throw new BadReplyError(`Ollama's reply has no message (HTTP ${reply.status}): ${reply.text.slice(0, 120)}`);
  }
  return ollamaResponse(content, body!, est, numCtx);
}

/** The response of a whole reply's text and its final fields, or a `TruncatedError` (see `OllamaModel`). */
function ollamaResponse(content: string, body: OllamaChatBody, est: TokenEstimate, numCtx: number): ChatResponse {
  const evaluated = body.prompt_eval_count;
  if (typeof evaluated === 'number' && evaluated > 0 && est.high > MIN_OLLAMA_CONTEXT && evaluated < TRUNCATION_RATIO * est.low) {
    throw new TruncatedError(
      `Ollama read only ${evaluated} of about ${est.central} prompt tokens (num_ctx ${numCtx}): it cut the prompt, so the reply is not used. ` +
        "The model's context is probably smaller: set the endpoint's context window to it.",
    );
  }
  const dr = body.done_reason;
  return {
    text: content,
    usage: { inputTokens: evaluated ?? 0, outputTokens: body.eval_count ?? 0 },
    finishReason: dr === 'length' ? 'length' : dr === 'stop' || dr == null ? 'stop' : 'other',
  };
}

/**
 * Reads a streamed `/api/chat` reply: one JSON object a line, each with a piece of `message.content`,
 * the last with `done: true`, `done_reason`, `prompt_eval_count` and `eval_count`, which the truncation
 * rule judges as for a whole reply. Only `done: true` completes the reply: a stream that ends without
 * it, or a line `{ "error": "…" }` (how Ollama reports a failure once the stream has begun; the status
 * stays 200), is a `TransientError`.
 */
export async function readOllamaStream(lines: AsyncIterable<string>, onText: (delta: string) => void, est: TokenEstimate, numCtx: number, secrets: readonly string[] = []): Promise<ChatResponse> {
  let text = '';
  for await (const line of ndjsonLines(lines)) {
    let body: OllamaChatBody;
    try {
      body = JSON.parse(line) as OllamaChatBody;
    } catch {
      throw new TransientError(redactSecrets(`Ollama's streamed reply carried a malformed line: ${line.slice(0, 120)}`, secrets));
    }
    if (typeof body.error === 'string') throw new TransientError(redactSecrets(`Ollama failed midway through the streamed reply: ${body.error}`, secrets));
    const delta = body.message?.content;
    if (typeof delta === 'string' && delta !== '') {
      text += delta;
      onText(delta);
    }
    if (body.done === true) return ollamaResponse(text, body, est, numCtx);
  }
  throw new TransientError("Ollama's streamed reply ended before its `done` line: it is incomplete, so it is not used.");
}
