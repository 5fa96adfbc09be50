import {
  AuthError,
  BadReplyError,
  ContextOverflowError,
  InvalidRequestError,
  ModelNotFoundError,
  QuotaExceededError,
  RateLimitedError,
  StructuredModeRefusedError,
  TransientError,
  type BatchPromptError,
} from '../core/execute/errors';
import type { ChatModel, ChatRequest, ChatResponse, CompleteOptions, RateLimitInfo, ResponseSchema } from '../core/execute/model';
import { credentialHeaderValues, numberHeader, originOf, parseDurationMs, passWhole, postJson, postJsonStream, wholeJsonReply, requestHeaders, retryAfterMs, type HttpReply } from './http/http';
import { sseEvents } from './http/streamParse';
import type { PoolOptions } from './http/pool';
import { redactSecrets } from '../util/redact';
import { canBeStrict, schemaName } from './structuredSchema';

/** Azure OpenAI's latest GA `api-version` of the data-plane inference API (chat completions). */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

export interface OpenAICompatibleOptions extends PoolOptions {
  /** Endpoint id for records and logs. */
  id?: string;
  /** `openai` (default): any OpenAI-style server. `azure`: Azure OpenAI's deployment URLs and `api-key` header. */
  provider?: 'openai' | 'azure';
  /**
   * openai: e.g. `https://api.openai.com/v1`, `http://127.0.0.1:1234/v1`; `/chat/completions` is appended.
   * azure: the resource endpoint, e.g. `https://my-resource.openai.azure.com`.
   */
  baseUrl: string;
  /** Model name; on Azure the deployment name. */
  model: string;
  /** Azure only: the `api-version` query parameter (default `AZURE_DEFAULT_API_VERSION`). */
  apiVersion?: string;
  apiKey?: string;
  contextWindow?: number;
  maxOutputTokens?: number;
  temperature?: number;
  /** Extra headers for this endpoint. */
  headers?: Record<string, string>;
}

/**
 * Any OpenAI-compatible chat endpoint (OpenAI, OpenRouter, LM Studio, vLLM, llama.cpp server) and Azure
 * OpenAI (`provider: 'azure'`). Errors are typed from the status and the body's `error.code` /
 * `error.type`; rate-limit headers are reported with each reply so the limiter can slow down before a
 * 429. Custom headers never replace the key's header: a custom `Authorization` (or, on Azure,
 * `api-key`) is dropped when a key is set, and sent as configured when none is.
 *
 * Structured output: `responseSchema` goes as `response_format: { type: "json_schema", json_schema }`,
 * strict only when the schema meets the strict-mode rules (`canBeStrict`). A server that refuses the
 * mode itself (many local ones do) rejects with `StructuredModeRefusedError` (see `structuredModeRefusal`).
 */
export class OpenAICompatibleModel implements ChatModel {
  readonly id: string;
  readonly contextWindow?: number;
  readonly maxOutputTokens?: number;
  readonly supportsSystemMessage = true;
  readonly structuredOutput = true;
  private readonly url: string;

  constructor(private readonly options: OpenAICompatibleOptions) {
    this.id = options.id ?? `${originOf(options.baseUrl)}#${options.model}`;
    this.contextWindow = options.contextWindow;
    this.maxOutputTokens = options.maxOutputTokens;
    this.url = options.provider === 'azure' ? azureChatUrl(options.baseUrl, options.model, options.apiVersion) : `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  async complete(request: ChatRequest, { signal, onText, idleTimeoutMs }: CompleteOptions): Promise<ChatResponse> {
    const payload: Record<string, unknown> = { ...chatCompletionBody(this.options.model, request, this.options), stream: !!onText };
    // Without it the usage of a streamed reply is never sent.
    if (onText) payload.stream_options = { include_usage: true };
    const azure = this.options.provider === 'azure';
    const auth: Record<string, string> = {};
    if (this.options.apiKey) auth[azure ? 'api-key' : 'authorization'] = azure ? this.options.apiKey : `Bearer ${this.options.apiKey}`;
    const headers = requestHeaders(this.options.headers, auth);
    if (onText) {
      const streamed = await postJsonStream(this.url, payload, headers, signal, { accept: 'text/event-stream', redact: this.secrets(), idleTimeoutMs, pool: this.options.pool });
      if (!streamed.ok) throw this.failure(streamed.reply, request);
      const whole = await wholeJsonReply(streamed);
      if (whole) return passWhole(parseChatCompletion(whole), onText);
      return readChatCompletionStream(streamed.text, streamed.headers, onText, this.secrets());
    }
    const reply = await postJson(this.url, payload, headers, signal, this.secrets(), this.options.pool);
    if (reply.status < 200 || reply.status >= 300) throw this.failure(reply, request);
    return parseChatCompletion(reply);
  }

  /** The typed error of a failed reply; a structured request's refusal of the mode itself is a `StructuredModeRefusedError`. */
  private failure(reply: HttpReply, request: ChatRequest): BatchPromptError {
    const e = this.options.provider === 'azure' ? azureError(reply, this.secrets()) : openAIError(reply, this.secrets());
    if (request.responseSchema && (InvalidRequestError.is(e) || TransientError.is(e))) return structuredModeRefusal(reply, this.secrets()) ?? e;
    return e;
  }

  private secrets(): string[] {
    return [...(this.options.apiKey ? [this.options.apiKey] : []), ...credentialHeaderValues(this.options.headers)];
  }
}

/**
 * The body of a chat completion for `request` (without `stream`): the live request and each line of a
 * Batch API job are built here, so both carry the same fields. `defaults` fill what the request leaves out.
 */
export function chatCompletionBody(model: string, request: ChatRequest, defaults: { maxOutputTokens?: number; temperature?: number } = {}): Record<string, unknown> {
  const body: Record<string, unknown> = { model, messages: request.messages };
  const maxTokens = request.maxOutputTokens ?? defaults.maxOutputTokens;
  if (maxTokens) body.max_tokens = maxTokens;
  const temperature = request.temperature ?? defaults.temperature;
  if (temperature !== undefined) body.temperature = temperature;
  if (request.responseSchema) body.response_format = openAIResponseFormat(request.responseSchema);
  return body;
}

/**
 * `response_format` for a schema: `{ type: "json_schema", json_schema: { name, schema, strict } }`.
 * `strict` is true only when asked for and the schema meets the strict-mode rules; otherwise the server
 * would refuse the whole request ("Invalid schema for response_format").
 */
export function openAIResponseFormat(rs: ResponseSchema): Record<string, unknown> {
  return { type: 'json_schema', json_schema: { name: schemaName(rs.name), schema: rs.schema, strict: rs.strict && canBeStrict(rs.schema) } };
}

/**
 * Words by which OpenAI-compatible servers say they refuse the structured mode or its schema: llama.cpp
 * (`response_format type must be one of "text" or "json_object"`, 500; `JSON schema conversion failed`,
 * 400), llama-cpp-python (500), LM Studio (`'response_format.type' must be …`, 400), vLLM (`The provided
 * JSON schema contains features not supported by xgrammar`, 400), LiteLLM (`UnsupportedParamsError: …
 * does not support parameters: ['response_format']`, 400), Azure before 2024-08-01 (`response_format
 * value as json_schema is enabled only for api versions …`), OpenAI (`Invalid schema for response_format`).
 */
const STRUCTURED_REFUSAL_RE = /response_format|json[ _-]?schema|structured[ _-]?outputs?|guided[ _-]?(decoding|json)|\bx?grammar\b/i;

/**
 * The `StructuredModeRefusedError` of a reply that refuses the structured mode itself: a 400, 422, 500
 * or 501 whose error message names it (see `STRUCTURED_REFUSAL_RE`); undefined for any other reply,
 * which keeps its own type. Only for a request that carried `response_format`.
 */
export function structuredModeRefusal(reply: HttpReply, secrets: readonly string[] = []): StructuredModeRefusedError | undefined {
  const status = reply.status;
  if (status !== 400 && status !== 422 && status !== 500 && status !== 501) return undefined;
  const { message, code } = errorFields(reply.body);
  const said = message ?? reply.text.slice(0, 500);
  if (!STRUCTURED_REFUSAL_RE.test(said)) return undefined;
  const detail = redactSecrets(said.slice(0, 300) || `HTTP ${status}`, secrets);
  return new StructuredModeRefusedError(`The endpoint refused the structured-output mode (response_format json_schema) (HTTP ${status}${code ? `, ${code}` : ''}): ${detail}`, { status });
}

/** `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…` (a trailing `/openai` is tolerated). */
export function azureChatUrl(baseUrl: string, deployment: string, apiVersion = AZURE_DEFAULT_API_VERSION): string {
  const root = baseUrl.replace(/\/+$/, '').replace(/\/openai$/i, '');
  return `${root}/openai/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${encodeURIComponent(apiVersion)}`;
}

/**
 * Azure OpenAI's errors: `{ error: { code, message } }` with codes such as `DeploymentNotFound` (404),
 * `"429"` (rate limit, with `retry-after`; the message says "Please retry after N seconds", read only
 * when no header gives the wait), `"401"`, `content_filter`, `context_length_exceeded`. Kinds come from
 * `openAIError`; the deployment gets its own hint.
 */
export function azureError(reply: HttpReply, secrets: readonly string[] = []): BatchPromptError {
  const { message, code } = errorFields(reply.body);
  const status = reply.status;
  const detail = redactSecrets((message ?? reply.text.slice(0, 200)) || `HTTP ${status}`, secrets);
  if (code === 'DeploymentNotFound') {
    return new ModelNotFoundError(`The Azure deployment was not found (HTTP ${status}, DeploymentNotFound); the model name must be the deployment's name: ${detail}`, { status });
  }
  if (status === 429 && code !== 'insufficient_quota' && retryAfterMs(reply.headers) === undefined) {
    const m = /retry after (\d+(?:\.\d+)?) seconds?/i.exec(message ?? '');
    if (m) return new RateLimitedError(`Rate limited (HTTP 429${code ? `, ${code}` : ''}): ${detail}`, Math.round(Number(m[1]) * 1000), { status });
  }
  return openAIError(reply, secrets);
}

interface OpenAIErrorBody {
  error?: { message?: string; type?: string; code?: string | number | null } | string;
  message?: string;
}

/** The error object of an OpenAI-style body: `{ error: { message, type, code } }` (or a bare string). */
export function errorFields(body: unknown): { message?: string; type?: string; code?: string } {
  const b = (body ?? {}) as OpenAIErrorBody;
  if (typeof b.error === 'string') return { message: b.error };
  const e = b.error ?? {};
  return { message: e.message ?? b.message, type: e.type ?? undefined, code: e.code == null ? undefined : String(e.code) };
}

/** Maps an OpenAI-compatible error reply to a typed error. */
export function openAIError(reply: HttpReply, secrets: readonly string[] = []): BatchPromptError {
  const { message, type, code } = errorFields(reply.body);
  const status = reply.status;
  const detail = redactSecrets((message ?? reply.text.slice(0, 200)) || `HTTP ${status}`, secrets);
  const say = (s: string) => `${s} (HTTP ${status}${code ? `, ${code}` : ''}): ${detail}`;
  const opts = { status };
  if (code === 'insufficient_quota' || type === 'insufficient_quota') {
    return new QuotaExceededError(say('The account has no quota left; add credit or raise the limit, then run again'), opts);
  }
  if (code === 'context_length_exceeded' || type === 'exceed_context_size_error' || code === 'string_above_max_length') {
    return new ContextOverflowError(say('The request is larger than the model accepts'), opts);
  }
  // Servers such as vLLM say it only in words, with a 400: status and message together decide.
  if (status === 400 && /maximum context length|context (size|window|length)|too many tokens|prompt is too long/i.test(message ?? '')) {
    return new ContextOverflowError(say('The request is larger than the model accepts'), opts);
  }
  if (status === 401 || status === 403 || code === 'invalid_api_key') {
    return new AuthError(say('The endpoint refused the API key; set a valid key'), opts);
  }
  if (status === 404 || code === 'model_not_found' || code === 'DeploymentNotFound') {
    return new ModelNotFoundError(say('The model was not found at this endpoint; check its name'), opts);
  }
  if (status === 429) return new RateLimitedError(say('Rate limited'), retryAfterMs(reply.headers), opts);
  if (status === 408 || status === 409 || status >= 500) return new TransientError(say('The endpoint failed'), retryAfterMs(reply.headers), opts);
  return new InvalidRequestError(say('The endpoint refused the request'), opts);
}

/** The rate-limit headers OpenAI and Azure send (`x-ratelimit-*`). */
export function openAIRateLimit(headers: Headers): RateLimitInfo | undefined {
  const info: RateLimitInfo = {
    remainingRequests: numberHeader(headers, 'x-ratelimit-remaining-requests'),
    remainingTokens: numberHeader(headers, 'x-ratelimit-remaining-tokens'),
    resetRequestsMs: parseDurationMs(headers.get('x-ratelimit-reset-requests')),
    resetTokensMs: parseDurationMs(headers.get('x-ratelimit-reset-tokens')),
  };
  return Object.values(info).some((v) => v !== undefined) ? info : undefined;
}

interface ChatCompletionBody {
  choices?: { message?: { content?: string | null; refusal?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

/** Reads a `chat.completion` body; a body without a message is a `BadReplyError` (retried). */
export function parseChatCompletion(reply: HttpReply): ChatResponse {
  const body = reply.body as ChatCompletionBody | undefined;
  const choice = body?.choices?.[0];
  const content = choice?.message?.content;
  if (typeof content !== 'string') {
    // Structured Outputs: a model that declines to answer says so in `refusal`, with no content.
    const refusal = choice?.message?.refusal;
    if (typeof refusal === 'string' && refusal) throw new BadReplyError(`The model refused to answer: ${refusal.slice(0, 200)}`);
    throw new BadReplyError(`The endpoint's reply has no message (HTTP ${reply.status}): ${reply.text.slice(0, 120)}`);
  }
  const fr = choice?.finish_reason;
  return {
    text: content,
    usage: { inputTokens: body?.usage?.prompt_tokens ?? 0, outputTokens: body?.usage?.completion_tokens ?? 0 },
    finishReason: fr === 'length' ? 'length' : fr === 'stop' || fr == null ? 'stop' : 'other',
    rateLimit: openAIRateLimit(reply.headers),
  };
}

interface ChatCompletionChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: unknown;
}

/**
 * Reads a streamed chat completion (`stream: true` with `stream_options.include_usage`): `data:` events
 * of `chat.completion.chunk`s whose `choices[0].delta.content` carry the text and whose last choice
 * carries `finish_reason`, then one chunk with empty `choices` and the whole request's `usage`, then
 * `data: [DONE]`. Only `[DONE]` completes the reply: a stream that ends without it, or that carries an
 * `error` object (some servers report a failure midway so), is a `TransientError`; a complete stream
 * without any choice is a `BadReplyError`, as a body without a message is.
 */
export async function readChatCompletionStream(events: AsyncIterable<string>, headers: Headers, onText: (delta: string) => void, secrets: readonly string[] = []): Promise<ChatResponse> {
  let text = '';
  let sawChoice = false;
  let finish: string | null | undefined;
  let usage: ChatCompletionChunk['usage'];
  for await (const event of sseEvents(events)) {
    if (event.data === '[DONE]') {
      if (!sawChoice) throw new BadReplyError('The endpoint streamed no message.');
      return {
        text,
        usage: { inputTokens: usage?.prompt_tokens ?? 0, outputTokens: usage?.completion_tokens ?? 0 },
        finishReason: finish === 'length' ? 'length' : finish === 'stop' || finish == null ? 'stop' : 'other',
        rateLimit: openAIRateLimit(headers),
      };
    }
    let chunk: ChatCompletionChunk;
    try {
      chunk = JSON.parse(event.data) as ChatCompletionChunk;
    } catch {
      throw new TransientError(redactSecrets(`The streamed reply carried malformed data: ${event.data.slice(0, 120)}`, secrets));
    }
    if (chunk.error !== undefined && chunk.error !== null) {
      const { message, code, type } = errorFields(chunk);
      throw new TransientError(redactSecrets(`The endpoint failed midway through the streamed reply${code ?? type ? ` (${code ?? type})` : ''}: ${message ?? event.data.slice(0, 200)}`, secrets));
    }
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    sawChoice = true;
    const delta = choice.delta?.content;
    if (typeof delta === 'string' && delta !== '') {
      text += delta;
      onText(delta);
    }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  throw new TransientError('The streamed reply ended before `data: [DONE]`: it is incomplete, so it is not used.');
}
