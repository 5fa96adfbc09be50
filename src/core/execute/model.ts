import type { Usage } from '../plan/types';
import type { JsonSchema } from '../output/kind';

/** One message of a chat request. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  /** Upper bound on the reply's tokens, when the caller wants one. */
  maxOutputTokens?: number;
  temperature?: number;
  /**
   * Structured output (#14): the reply must be one JSON object matching `schema`, through the
   * provider's own mode (OpenAI/Azure `response_format` json_schema, Anthropic's structured route,
   * Ollama `format`). Only sent to a model whose `structuredOutput` is true. The reply's `text` is that
   * JSON's text. A server that refuses the mode rejects with `StructuredModeRefusedError`.
   */
  responseSchema?: ResponseSchema;
  /**
   * The messages' tokens in the run's tokenizer, when the caller counted them (the executor does, off
   * the editor's thread): a provider that sizes a request from its tokens (Ollama's `num_ctx`) takes
   * this instead of counting again.
   */
  inputTokens?: number;
}

export interface ResponseSchema {
  /** A name for the schema (OpenAI requires one: `[a-zA-Z0-9_-]`, at most 64). */
  name: string;
  schema: JsonSchema;
  /** Ask for strict adherence when the provider has such a switch and the schema allows it. */
  strict: boolean;
}

/** What a provider learnt from rate-limit headers; fed to the run's limiter before a 429 happens. */
export interface RateLimitInfo {
  remainingRequests?: number;
  remainingTokens?: number;
  /** Milliseconds until the request / token budget resets. */
  resetRequestsMs?: number;
  resetTokensMs?: number;
}

export interface ChatResponse {
  text: string;
  usage?: Usage;
  /** `length` means the reply was cut by the output limit. */
  finishReason?: 'stop' | 'length' | 'other';
  rateLimit?: RateLimitInfo;
}

/** How one completion is asked for. */
export interface CompleteOptions {
  signal: AbortSignal;
  /**
   * When given, the reply is streamed and each piece of its text is passed here as it arrives (must not
   * throw). The resolved response is the same as without it (whole text, usage, finish reason); a stream
   * that breaks midway rejects with a transient error, never resolves with a partial reply. Without it
   * the reply is read whole, not streamed.
   */
  onText?: (delta: string) => void;
  /** Streaming only: most milliseconds between two pieces of the reply (default 60 s). */
  idleTimeoutMs?: number;
}

/**
 * A chat model behind one endpoint. `complete` resolves with the whole reply or rejects with one of the
 * typed errors of `errors.ts`; it must honour `signal` (reject promptly with `CanceledError` or let the
 * caller map the abort).
 */
export interface ChatModel {
  /** Endpoint id for logs and records (never contains a key). */
  readonly id: string;
  /** Input plus output tokens the model accepts, when known. */
  readonly contextWindow?: number;
  /** Tokens reserved for the reply. */
  readonly maxOutputTokens?: number;
  /** False when the prompt must lead the first user message instead (VS Code's Language Model API). */
  readonly supportsSystemMessage: boolean;
  /** True when `complete` honours `ChatRequest.responseSchema` (the provider has a structured-output mode). */
  readonly structuredOutput?: boolean;
  /** Exact token count by the model's own tokenizer, when the provider offers one. */
  countTokens?(text: string, signal?: AbortSignal): Promise<number>;
  complete(request: ChatRequest, options: CompleteOptions): Promise<ChatResponse>;
}
