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
import type { ChatModel, ChatRequest, ChatResponse, CompleteOptions, RateLimitInfo } from '../core/execute/model';
import { credentialHeaderValues, msUntil, numberHeader, originOf, passWhole, postJson, postJsonStream, wholeJsonReply, requestHeaders, retryAfterMs, type HttpReply } from './http/http';
import { sseEvents } from './http/streamParse';
import type { PoolOptions } from './http/pool';
import { redactSecrets } from '../util/redact';
import { schemaName } from './structuredSchema';

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const ANTHROPIC_VERSION = '2023-06-01';
/** `max_tokens` is required by the Messages API; this is sent when neither the request nor the endpoint sets one. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

export interface AnthropicOptions extends PoolOptions {
  /** Endpoint id for records and logs. */
  id?: string;
  /** Default `https://api.anthropic.com`; `/v1/messages` is appended. */
  baseUrl?: string;
  model: string;
  apiKey?: string;
  contextWindow?: number;
  maxOutputTokens?: number;
  temperature?: number;
  /** Extra headers; `x-api-key` and `anthropic-version` are the provider's and always win. */
  headers?: Record<string, string>;
}

/**
 * Anthropic's Messages API (`POST /v1/messages`; streamed when the caller passes `onText`). System messages become the top-level
 * `system` field; the reply's text blocks are joined. Errors are typed from the status and the body's
 * `error.type`; `anthropic-ratelimit-*` headers are reported with each reply.
 *
 * Structured output goes through forced tool use: one tool whose `input_schema` is the schema, and
 * `tool_choice: { type: "tool", name }`. It is generally available on every Claude model, without a beta
 * header, takes any object schema, and works the same in Message Batches; the reply's text is the
 * tool call's `input` as JSON (see `parseAnthropicMessage`, `readAnthropicStream`). (The newer
 * `output_config.format` only exists on recent models and a subset of JSON Schema.)
 */
export class AnthropicModel implements ChatModel {
  readonly id: string;
  readonly contextWindow?: number;
  readonly maxOutputTokens?: number;
  readonly supportsSystemMessage = true;
  readonly structuredOutput = true;
  private readonly url: string;

  constructor(private readonly options: AnthropicOptions) {
    const base = (options.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.id = options.id ?? `${originOf(base)}#${options.model}`;
    this.contextWindow = options.contextWindow;
    this.maxOutputTokens = options.maxOutputTokens;
    this.url = `${base}/v1/messages`;
  }

  async complete(request: ChatRequest, { signal, onText, idleTimeoutMs }: CompleteOptions): Promise<ChatResponse> {
    const payload: Record<string, unknown> = { ...anthropicMessageParams(this.options.model, request, this.options), stream: !!onText };
    const auth: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION };
    if (this.options.apiKey) auth['x-api-key'] = this.options.apiKey;
    const headers = requestHeaders(this.options.headers, auth);
    if (onText) {
      const streamed = await postJsonStream(this.url, payload, headers, signal, { accept: 'text/event-stream', redact: this.secrets(), idleTimeoutMs, pool: this.options.pool });
      if (!streamed.ok) throw this.failure(streamed.reply, request);
      const whole = await wholeJsonReply(streamed);
      if (whole) return passWhole(parseAnthropicMessage(whole), onText);
      return readAnthropicStream(streamed.text, streamed.headers, onText, this.secrets());
    }
    const reply = await postJson(this.url, payload, headers, signal, this.secrets(), this.options.pool);
    if (reply.status < 200 || reply.status >= 300) throw this.failure(reply, request);
    return parseAnthropicMessage(reply);
  }

  /** The typed error of a failed reply; a structured request's refusal of the tool route is a `StructuredModeRefusedError`. */
  private failure(reply: HttpReply, request: ChatRequest): BatchPromptError {
    const e = anthropicError(reply, this.secrets());
    if (request.responseSchema && InvalidRequestError.is(e)) return anthropicStructuredRefusal(reply, this.secrets()) ?? e;
    return e;
  }

  private secrets(): string[] {
    return [...(this.options.apiKey ? [this.options.apiKey] : []), ...credentialHeaderValues(this.options.headers)];
  }
}

/** What the answer tool is told it is for. */
const ANSWER_TOOL_DESCRIPTION = 'Give your whole answer as this tool\'s input, exactly as its schema says.';

/**
 * The Messages API parameters of `request` (without `stream`): the live request and each request of a
 * Message Batch are built here, so both carry the same fields. System messages become `system`; a
 * `responseSchema` becomes the forced answer tool (see `AnthropicModel`).
 */
export function anthropicMessageParams(model: string, request: ChatRequest, defaults: { maxOutputTokens?: number; temperature?: number } = {}): Record<string, unknown> {
  const system = request.messages.filter((m) => m.role === 'system').map((m) => m.content);
  const params: Record<string, unknown> = {
    model,
    max_tokens: request.maxOutputTokens ?? defaults.maxOutputTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    messages: request.messages.filter((m) => m.role !== 'system').map((m) => ({ role: m.role, content: m.content })),
  };
  if (system.length) params.system = system.join('\n\n');
  const temperature = request.temperature ?? defaults.temperature;
  if (temperature !== undefined) params.temperature = temperature;
  if (request.responseSchema) {
    const name = schemaName(request.responseSchema.name);
    params.tools = [{ name, description: ANSWER_TOOL_DESCRIPTION, input_schema: request.responseSchema.schema }];
    params.tool_choice = { type: 'tool', name };
  }
  return params;
}

/**
 * The `StructuredModeRefusedError` of a 400 that refuses the tool route or its schema (`tools.0.input_schema:
 * JSON schema is invalid…`, a gateway without tool use); undefined for any other reply.
 */
export function anthropicStructuredRefusal(reply: HttpReply, secrets: readonly string[] = []): StructuredModeRefusedError | undefined {
  if (reply.status !== 400 && reply.status !== 422) return undefined;
  const message = ((reply.body ?? {}) as AnthropicErrorBody).error?.message ?? reply.text.slice(0, 500);
  if (!/tool_choice|input_schema|\btools?\b|tool use|json schema/i.test(message)) return undefined;
  return new StructuredModeRefusedError(`Anthropic refused the structured-output route (a forced tool) (HTTP ${reply.status}): ${redactSecrets(message.slice(0, 300), secrets)}`, { status: reply.status });
}

interface AnthropicErrorBody {
  type?: string;
  error?: { type?: string; message?: string; details?: { error_code?: string } | null };
}

/**
 * Maps an Anthropic error reply (`{ type: "error", error: { type, message }, request_id }`) to a typed
 * error. Status and `error.type` decide; the message only tells "prompt is too long" and an exhausted
 * credit balance apart from other 400 `invalid_request_error`s.
 */
export function anthropicError(reply: HttpReply, secrets: readonly string[] = []): BatchPromptError {
  const body = (reply.body ?? {}) as AnthropicErrorBody;
  const type = body.error?.type;
  const message = body.error?.message;
  const status = reply.status;
  const detail = redactSecrets((message ?? reply.text.slice(0, 200)) || `HTTP ${status}`, secrets);
  const say = (s: string) => `${s} (HTTP ${status}${type ? `, ${type}` : ''}): ${detail}`;
  const opts = { status };
  if (status === 413 || type === 'request_too_large') return new ContextOverflowError(say('The request is larger than Anthropic accepts'), opts);
  if (status === 400 && (type === 'invalid_request_error' || type === undefined)) {
    if (/prompt is too long|context (window|length)|too many (input )?tokens/i.test(message ?? '')) {
      return new ContextOverflowError(say("The request is larger than the model's context window"), opts);
    }
    if (/credit balance|spend(ing)? limit|usage limits?/i.test(message ?? '')) {
      return new QuotaExceededError(say('The Anthropic account cannot spend more; add credit or raise the limit, then run again'), opts);
    }
    return new InvalidRequestError(say('Anthropic refused the request'), opts);
  }
  if (status === 402 || type === 'billing_error') return new QuotaExceededError(say('The Anthropic account cannot spend more; add credit or raise the limit, then run again'), opts);
  if (status === 401 || type === 'authentication_error') return new AuthError(say('Anthropic refused the API key; set a valid key'), opts);
  if (status === 403 || type === 'permission_error') return new AuthError(say('The API key may not use this model or resource'), opts);
  if (status === 404 || type === 'not_found_error') return new ModelNotFoundError(say('The model was not found at Anthropic; check its name'), opts);
  if (status === 429 || type === 'rate_limit_error') {
    if (body.error?.details?.error_code === 'enforced_spend_limit_reached') {
      return new QuotaExceededError(say('The Anthropic spend limit is reached; raise it, then run again'), opts);
    }
    return new RateLimitedError(say('Rate limited'), retryAfterMs(reply.headers), opts);
  }
  if (status === 529 || type === 'overloaded_error' || type === 'api_error' || status === 408 || status === 409 || status >= 500) {
    return new TransientError(say('Anthropic failed or is overloaded'), retryAfterMs(reply.headers), opts);
  }
  return new InvalidRequestError(say('Anthropic refused the request'), opts);
}

/**
 * `anthropic-ratelimit-*` headers: remaining counts and RFC 3339 reset times (converted to ms from
 * `now`). The token budget is the smaller of `tokens` (the most restrictive limit in effect) and
 * `input-tokens`, since the limiter spends it on request tokens.
 */
export function anthropicRateLimit(headers: Headers, now = Date.now()): RateLimitInfo | undefined {
  const h = (name: string) => `anthropic-ratelimit-${name}`;
  const budgets = (['tokens', 'input-tokens'] as const)
    .map((k) => ({ remaining: numberHeader(headers, h(`${k}-remaining`)), resetMs: msUntil(headers.get(h(`${k}-reset`)), now) }))
    .filter((b) => b.remaining !== undefined)
    .sort((a, b) => a.remaining! - b.remaining!);
  const info: RateLimitInfo = {
    remainingRequests: numberHeader(headers, h('requests-remaining')),
    remainingTokens: budgets[0]?.remaining,
    resetRequestsMs: msUntil(headers.get(h('requests-reset')), now),
    resetTokensMs: budgets[0]?.resetMs,
  };
  return Object.values(info).some((v) => v !== undefined) ? info : undefined;
}

interface AnthropicMessageBody {
  type?: string;
  content?: { type?: string; text?: string; input?: unknown }[];
  stop_reason?: string | null;
  usage?: { input_tokens?: number; output_tokens?: number };
}

/**
 * Reads a Messages API reply; a body without a `content` array is a `BadReplyError` (retried). The text
 * is the text blocks joined, or, when the reply calls a tool (only the structured route sends one), that
 * call's `input` as JSON (`JSON.stringify`); `stop_reason` `tool_use` is then a normal stop.
 */
export function parseAnthropicMessage(reply: HttpReply): ChatResponse {
  const body = reply.body as AnthropicMessageBody | undefined;
  if (!body || !Array.isArray(body.content)) {
    throw new BadReplyError(`Anthropic's reply has no content (HTTP ${reply.status}): ${reply.text.slice(0, 120)}`);
  }
  const tool = body.content.find((b) => b.type === 'tool_use');
  const text = tool
    ? JSON.stringify(tool.input ?? {})
    : body.content
        .filter((b) => b.type === 'text' && typeof b.text === 'string')
        .map((b) => b.text)
        .join('');
  return {
    text,
    usage: { inputTokens: body.usage?.input_tokens ?? 0, outputTokens: body.usage?.output_tokens ?? 0 },
    finishReason: finishOf(body.stop_reason),
    rateLimit: anthropicRateLimit(reply.headers),
  };
}

function finishOf(sr: string | null | undefined): ChatResponse['finishReason'] {
  return sr === 'max_tokens' ? 'length' : sr === 'end_turn' || sr === 'stop_sequence' || sr === 'tool_use' || sr == null ? 'stop' : 'other';
}

interface AnthropicStreamEvent {
  type?: string;
  message?: { usage?: { input_tokens?: number; output_tokens?: number } };
  index?: number;
  content_block?: { type?: string };
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null };
  usage?: { input_tokens?: number; output_tokens?: number };
  error?: { type?: string; message?: string };
}

/**
 * Reads a streamed Messages reply (`stream: true`): `message_start` (its message's `usage.input_tokens`),
 * `content_block_delta`s (text from `text_delta`s; for a tool call, its input's JSON from
 * `input_json_delta`s, passed on as they come and returned re-serialized as `JSON.stringify` would, so the
 * text is the same as a whole reply's), `message_delta` (`delta.stop_reason` and the
 * cumulative `usage.output_tokens`), then `message_stop`, with `ping`s anywhere. Only `message_stop`
 * completes the reply. An `error` event midway (`overloaded_error`, `api_error`, the streamed form of a
 * 529 or 500) is a `TransientError`, `rate_limit_error` a `RateLimitedError`; a stream that ends without
 * `message_stop` is a `TransientError`. Unknown events are ignored (Anthropic may add some).
 */
export async function readAnthropicStream(events: AsyncIterable<string>, headers: Headers, onText: (delta: string) => void, secrets: readonly string[] = []): Promise<ChatResponse> {
  let text = '';
  /** The tool call's input JSON as streamed, once a `tool_use` block has started. */
  let toolJson: string | undefined;
  let started = false;
  let inputTokens = 0;
  let outputTokens = 0;
  let stopReason: string | null | undefined;
  for await (const event of sseEvents(events)) {
    let data: AnthropicStreamEvent;
    try {
      data = JSON.parse(event.data) as AnthropicStreamEvent;
    } catch {
      throw new TransientError(redactSecrets(`Anthropic's streamed reply carried malformed data: ${event.data.slice(0, 120)}`, secrets));
    }
    switch (data.type ?? event.event) {
      case 'message_start':
        started = true;
        inputTokens = data.message?.usage?.input_tokens ?? inputTokens;
        outputTokens = data.message?.usage?.output_tokens ?? outputTokens;
        break;
      case 'content_block_start':
        if (data.content_block?.type === 'tool_use' && toolJson === undefined) toolJson = '';
        break;
      case 'content_block_delta':
        if (data.delta?.type === 'text_delta' && typeof data.delta.text === 'string' && data.delta.text !== '') {
          text += data.delta.text;
          onText(data.delta.text);
        } else if (data.delta?.type === 'input_json_delta' && typeof data.delta.partial_json === 'string' && data.delta.partial_json !== '') {
          toolJson = (toolJson ?? '') + data.delta.partial_json;
          onText(data.delta.partial_json);
        }
        break;
      case 'message_delta':
        if (data.delta?.stop_reason !== undefined) stopReason = data.delta.stop_reason;
        outputTokens = data.usage?.output_tokens ?? outputTokens;
        inputTokens = data.usage?.input_tokens ?? inputTokens;
        break;
      case 'message_stop':
        if (!started) throw new BadReplyError("Anthropic's streamed reply has no message.");
        return {
          text: toolJson !== undefined ? toolInputText(toolJson) : text,
          usage: { inputTokens, outputTokens },
          finishReason: finishOf(stopReason),
          rateLimit: anthropicRateLimit(headers),
        };
      case 'error': {
        const type = data.error?.type;
        const detail = redactSecrets(data.error?.message ?? event.data.slice(0, 200), secrets);
        if (type === 'rate_limit_error') throw new RateLimitedError(`Rate limited midway through the streamed reply (${type}): ${detail}`);
        throw new TransientError(`Anthropic failed midway through the streamed reply${type ? ` (${type})` : ''}: ${detail}`);
      }
      default:
        break; // ping, content_block_stop, and events added later
    }
  }
  throw new TransientError("Anthropic's streamed reply ended before `message_stop`: it is incomplete, so it is not used.");
}

/** A streamed tool input as a whole reply gives it (`JSON.stringify(input)`); as streamed when it does not parse (a reply cut by `max_tokens`). */
function toolInputText(json: string): string {
  if (json.trim() === '') return '{}';
  try {
    return JSON.stringify(JSON.parse(json));
  } catch {
    return json;
  }
}
