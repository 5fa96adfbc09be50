/**
 * Typed errors of the engine. Code branches on `kind` (through each class's static `is()`), never on
 * message text. Messages are short and say what to do; they never contain an API key.
 */

export type ErrorKind =
  | 'rate-limited'
  | 'context-overflow'
  | 'auth'
  | 'quota'
  | 'model-not-found'
  | 'no-permission'
  | 'transient'
  | 'timeout'
  | 'bad-reply'
  | 'invalid-output'
  | 'truncated'
  | 'invalid-request'
  | 'canceled'
  /** Not sent: the run's spend cap was reached (#17); the chunk ends `canceled`, a resume with a higher cap sends it. */
  | 'budget'
  | 'source-changed'
  | 'config';

/** Kinds that no retry can fix: they end the whole run at once. */
const FATAL_KINDS: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['auth', 'quota', 'model-not-found', 'no-permission', 'config']);

export abstract class BatchPromptError extends Error {
  abstract readonly kind: ErrorKind;
  /** HTTP status when the error came from an HTTP reply. */
  readonly status?: number;

  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    if (options?.status !== undefined) this.status = options.status;
  }

  /** True when the run cannot go on (bad key, exhausted quota, missing model, refused consent, bad settings). */
  get fatal(): boolean {
    return FATAL_KINDS.has(this.kind);
  }

  static isAny(e: unknown): e is BatchPromptError {
    return e instanceof Error && typeof (e as Partial<BatchPromptError>).kind === 'string' && 'fatal' in e;
  }
}

/** Each class's static `is` (an arrow, so it can be passed around unbound) checks the kind, not the class. */
function isKind(e: unknown, kind: ErrorKind): boolean {
  return BatchPromptError.isAny(e) && e.kind === kind;
}

/** 429 or an equivalent "slow down": wait at least `retryAfterMs` when known. */
export class RateLimitedError extends BatchPromptError {
  readonly kind = 'rate-limited' as const;
  constructor(message: string, readonly retryAfterMs?: number, options?: { cause?: unknown; status?: number }) {
    super(message, options);
  }
  static readonly is = (e: unknown): e is RateLimitedError => isKind(e, 'rate-limited');
}

/** The request does not fit the model's context window: split it, never resend it unchanged. */
export class ContextOverflowError extends BatchPromptError {
  readonly kind = 'context-overflow' as const;
  static readonly is = (e: unknown): e is ContextOverflowError => isKind(e, 'context-overflow');
}

/** Bad or missing credentials (401/403). Fatal. */
export class AuthError extends BatchPromptError {
  readonly kind = 'auth' as const;
  static readonly is = (e: unknown): e is AuthError => isKind(e, 'auth');
}

/** The account's quota is exhausted (a 429 that no wait fixes). Fatal. */
export class QuotaExceededError extends BatchPromptError {
  readonly kind = 'quota' as const;
  static readonly is = (e: unknown): e is QuotaExceededError => isKind(e, 'quota');
}

/** The model or deployment does not exist. Fatal. */
export class ModelNotFoundError extends BatchPromptError {
  readonly kind = 'model-not-found' as const;
  static readonly is = (e: unknown): e is ModelNotFoundError => isKind(e, 'model-not-found');
}

/** The user has not allowed this extension to use the model. Fatal. */
export class NoPermissionError extends BatchPromptError {
  readonly kind = 'no-permission' as const;
  static readonly is = (e: unknown): e is NoPermissionError => isKind(e, 'no-permission');
}

/** A failure that may pass on retry: 408, 409, 5xx, a reset connection, a malformed body. */
export class TransientError extends BatchPromptError {
  readonly kind = 'transient' as const;
  constructor(message: string, readonly retryAfterMs?: number, options?: { cause?: unknown; status?: number }) {
    super(message, options);
  }
  static readonly is = (e: unknown): e is TransientError => isKind(e, 'transient');
}

/** The request took longer than the per-request timeout. Retried like a transient error. */
export class TimeoutError extends BatchPromptError {
  readonly kind = 'timeout' as const;
  static readonly is = (e: unknown): e is TimeoutError => isKind(e, 'timeout');
}

/** The model answered, but not in the protocol's shape (a result missing, a reply cut off). */
export class BadReplyError extends BatchPromptError {
  readonly kind = 'bad-reply' as const;
  static readonly is = (e: unknown): e is BadReplyError => isKind(e, 'bad-reply');
}

/**
 * A structured chunk's value failed its schema (or cited lines outside its chunk) even after the
 * repair request. Fails the chunk; its raw reply is kept in the run folder's `invalid/`.
 */
export class InvalidOutputError extends BatchPromptError {
  readonly kind = 'invalid-output' as const;
  static readonly is = (e: unknown): e is InvalidOutputError => isKind(e, 'invalid-output');
}

/** The provider visibly cut the prompt (Ollama's silent truncation). Never a success. */
export class TruncatedError extends BatchPromptError {
  readonly kind = 'truncated' as const;
  static readonly is = (e: unknown): e is TruncatedError => isKind(e, 'truncated');
}

/** A request the provider refuses for a reason a retry cannot fix (other 4xx). Fails the chunks, not the run. */
export class InvalidRequestError extends BatchPromptError {
  readonly kind = 'invalid-request' as const;
  static readonly is = (e: unknown): e is InvalidRequestError => isKind(e, 'invalid-request');
}

/**
 * The server refused the structured-output mode itself (many local OpenAI-compatible servers reject
 * `response_format`). Not the chunks' fault: the executor falls back to the tagged protocol for this
 * endpoint for the rest of the run and sends the same chunks again, uncharged.
 */
export class StructuredModeRefusedError extends BatchPromptError {
  readonly kind = 'invalid-request' as const;
  readonly structuredModeRefused = true as const;
  static readonly is = (e: unknown): e is StructuredModeRefusedError => BatchPromptError.isAny(e) && (e as Partial<StructuredModeRefusedError>).structuredModeRefused === true;
}

/** Cancellation requested by the user. Not a failure: chunks end `canceled`. */
export class CanceledError extends BatchPromptError {
  readonly kind = 'canceled' as const;
  constructor(message = 'Canceled') {
    super(message);
  }
  static readonly is = (e: unknown): e is CanceledError => isKind(e, 'canceled');
}

/** A file changed or went away between planning and sending: its chunks fail, the run goes on. */
export class SourceChangedError extends BatchPromptError {
  readonly kind = 'source-changed' as const;
  static readonly is = (e: unknown): e is SourceChangedError => isKind(e, 'source-changed');
}

/** Settings or inputs that make the run impossible (no files, no model, a missing key). Fatal. */
export class ConfigError extends BatchPromptError {
  readonly kind = 'config' as const;
  static readonly is = (e: unknown): e is ConfigError => isKind(e, 'config');
}

/** The recorded form of an error: `{ kind, message }`, with unknown errors mapped to `transient`. */
export function describeError(e: unknown): { kind: ErrorKind; message: string } {
  if (BatchPromptError.isAny(e)) return { kind: e.kind, message: e.message };
  return { kind: 'transient', message: e instanceof Error ? e.message : String(e) };
}
