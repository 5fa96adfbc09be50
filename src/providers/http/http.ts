import { CanceledError, TimeoutError, TransientError } from '../../core/execute/errors';
import type { ChatResponse } from '../../core/execute/model';
import type { ConnectionPool } from './pool';
import { redactSecrets } from '../../util/redact';

/** A JSON reply: status, headers, parsed body (undefined when not JSON) and raw text. */
export interface HttpReply {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/**
 * POSTs JSON with `fetch` and reads the whole reply. Network failures (reset, refused, DNS) become
 * `TransientError`; an abort becomes `CanceledError` (the executor tells timeouts from cancels by its
 * own signals). Secrets in `redact` are removed from any message this produces. With a `pool` the
 * request goes through that endpoint's keep-alive connections (see `connectionPool`).
 */
export async function postJson(url: string, payload: unknown, headers: Record<string, string>, signal: AbortSignal, redact: readonly string[] = [], pool?: ConnectionPool): Promise<HttpReply> {
  const res = await send(url, { method: 'POST', headers: lowerCaseHeaders({ 'content-type': 'application/json', accept: 'application/json' }, headers), body: jsonBody(payload) }, signal, redact, pool);
  return readReply(res, url, signal, redact);
}

/**
 * A request's JSON as UTF-8 bytes (#17): a string body is encoded by `fetch` into a copy of its own,
 * so the string (chunk texts and all) and its bytes were both held while the request was in flight.
 */
export function jsonBody(payload: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

/** `fetch` through the pool, a network failure or an abort typed as `postJson` says. */
export async function send(url: string, init: Omit<RequestInit, 'signal'>, signal: AbortSignal, redact: readonly string[], pool?: ConnectionPool): Promise<Response> {
  try {
    return await fetch(url, withPool({ ...init, signal }, pool));
  } catch (e) {
    throw networkError(e, url, signal, redact);
  }
}

/** Reads a reply whole: its text, and its body parsed when it is JSON. */
export async function readReply(res: Response, url: string, signal: AbortSignal, redact: readonly string[]): Promise<HttpReply> {
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw networkError(e, url, signal, redact);
  }
  return { status: res.status, headers: res.headers, body: parseJsonText(text), text };
}

/** The JSON value of a text, or undefined when it is empty or not JSON. */
export function parseJsonText(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `fetch`'s init with the endpoint's pool as its dispatcher. Node's `fetch` is undici's and takes a
 * `dispatcher` option its DOM typings do not declare; the pool is an undici `Agent`, which Node's
 * bundled undici (6 in Node 20, 7 in Node 22+) accepts; only the typings differ (the package's and
 * Node's copies of undici's types), hence the cast.
 */
export function withPool(init: RequestInit, pool: ConnectionPool | undefined): RequestInit {
  return pool ? ({ ...init, dispatcher: pool } as unknown as RequestInit) : init;
}

function networkError(e: unknown, url: string, signal: AbortSignal, redact: readonly string[]): Error {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof DOMException && reason.name === 'TimeoutError') return new TimeoutError('The request timed out.');
    return new CanceledError();
  }
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
  return new TransientError(redactSecrets(`Could not reach ${originOf(url)} (${detail}).`, redact), undefined, { cause: e });
}

/**
 * Merges header records by lower-cased name, later records winning. Plain objects are case-sensitive
 * but HTTP names are not: `{ Authorization: a, authorization: b }` would otherwise be sent as "a, b".
 */
export function lowerCaseHeaders(...records: (Record<string, string> | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of records) for (const [k, v] of Object.entries(r ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/**
 * The headers of one request: the endpoint's custom headers, then the provider's own auth headers,
 * which always win (a custom header of the same name, in any case, is dropped, never merged). Without
 * a key the provider sends no auth header, so a custom one (a gateway token) goes out as configured.
 */
export function requestHeaders(custom: Record<string, string> | undefined, auth: Record<string, string>): Record<string, string> {
  return lowerCaseHeaders(custom, auth);
}

/** Values of custom headers that look like credentials, to redact from messages like the key itself. */
export function credentialHeaderValues(headers: Record<string, string> | undefined): string[] {
  return Object.entries(headers ?? {})
    .filter(([k]) => /auth|key|token|secret|cookie/i.test(k))
    .flatMap(([, v]) => [v, v.replace(/^(Bearer|Basic)\s+/i, '')]);
}

/** Milliseconds from `now` until an RFC 3339 time (`2025-08-21T12:40:59Z`), never negative. */
export function msUntil(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const t = Date.parse(value.trim());
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the endpoint';
  }
}

/** Parses a duration header: plain seconds ("20", "1.5"), or Go-style ("6m0s", "20ms", "1h2m3.5s"). */
export function parseDurationMs(value: string | null | undefined): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
    matched += m[0];
  }
  return matched === v ? Math.round(total) : undefined;
}

/** `retry-after-ms`, else `retry-after` (seconds or an HTTP date), in milliseconds. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const ra = headers.get('retry-after');
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.round(Number(ra) * 1000);
  const date = Date.parse(ra);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A finite non-negative number from a header, or undefined. */
export function numberHeader(headers: Headers, name: string): number | undefined {
  const v = headers.get(name);
  if (v == null || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Most milliseconds between two pieces of a streamed reply before the stream counts as broken. */
export const STREAM_IDLE_TIMEOUT_MS = 60_000;

/**
 * A streamed POST's reply: a 2xx whose body is still to be read (as decoded text pieces), or any other
 * status read whole, so that the caller maps it with the same code as a non-streamed reply.
 */
export type StreamReply = { ok: true; status: number; headers: Headers; text: AsyncIterable<string> } | { ok: false; reply: HttpReply };

export interface StreamOptions {
  /** The `accept` header: `text/event-stream` for SSE, `application/x-ndjson` for Ollama. */
  accept: string;
  redact?: readonly string[];
  /** Default `STREAM_IDLE_TIMEOUT_MS`. */
  idleTimeoutMs?: number;
  /** The endpoint's connection pool (see `postJson`). */
  pool?: ConnectionPool;
}

/**
 * POSTs JSON and returns the reply's body as a stream of text, for streamed completions. Failures before
 * the body are those of `postJson` (a network failure is a `TransientError`, an abort a `CanceledError`
 * or `TimeoutError`). Reading the body can fail later: a reset or a stall longer than `idleTimeoutMs`
 * rejects the iteration with a `TransientError`, so that the batch is retried like any other.
 */
export async function postJsonStream(url: string, payload: unknown, headers: Record<string, string>, signal: AbortSignal, options: StreamOptions): Promise<StreamReply> {
  const redact = options.redact ?? [];
  const init = { method: 'POST', headers: lowerCaseHeaders({ 'content-type': 'application/json', accept: options.accept }, headers), body: jsonBody(payload) };
  const res = await send(url, init, signal, redact, options.pool);
  if (res.status < 200 || res.status >= 300 || !res.body) return { ok: false, reply: await readReply(res, url, signal, redact) };
  const body = res.body;
  return { ok: true, status: res.status, headers: res.headers, text: decodeBody(body, { idleTimeoutMs: options.idleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS, onError: (e) => streamError(e, url, signal, redact) }) };
}

/**
 * A 2xx streamed reply that came as one JSON body instead (a server that ignores `stream: true`), read
 * whole as `postJson` would; undefined when it is a stream.
 */
export async function wholeJsonReply(streamed: Extract<StreamReply, { ok: true }>): Promise<HttpReply | undefined> {
  if (!/^application\/json\b/i.test(streamed.headers.get('content-type') ?? '')) return undefined;
  let text = '';
  for await (const piece of streamed.text) text += piece;
  return { status: streamed.status, headers: streamed.headers, body: parseJsonText(text), text };
}

/** A reply that came whole although streaming was asked for: its text goes to `onText` at once. */
export function passWhole(response: ChatResponse, onText: (delta: string) => void): ChatResponse {
  if (response.text) onText(response.text);
  return response;
}

/**
 * A byte stream as UTF-8 text pieces, through one streaming `TextDecoder` (a character split across
 * chunks comes out whole). A read that fails goes through `onError`; a stall longer than `idleTimeoutMs`
 * is a `TransientError`. Leaving the iteration early cancels the body, which frees the connection.
 */
export async function* decodeBody(body: ReadableStream<Uint8Array>, options: { idleTimeoutMs: number; onError?: (e: unknown) => Error }): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let finished = false;
  let failed = false;
  // One timer for the whole stream, pushed back after each piece (cheaper than a timer per read).
  let stall!: (e: Error) => void;
  const stalled = new Promise<never>((_, reject) => (stall = reject));
  stalled.catch(() => undefined);
  const timer = setTimeout(() => stall(new StalledError(options.idleTimeoutMs)), options.idleTimeoutMs);
  try {
    for (;;) {
      let result: Awaited<ReturnType<typeof reader.read>>;
      try {
        result = await Promise.race([reader.read(), stalled]);
      } catch (e) {
        failed = true;
        if (e instanceof StalledError) throw new TransientError(`The streamed reply stalled: nothing arrived for ${formatSeconds(e.ms)}.`, undefined, { cause: e });
        throw options.onError ? options.onError(e) : e;
      }
      timer.refresh();
      if (result.done) break;
      const text = decoder.decode(result.value, { stream: true });
      if (text) yield text;
    }
    finished = true;
    const tail = decoder.decode();
    if (tail) yield tail;
  } finally {
    clearTimeout(timer);
    // The caller stops at the stream's terminator (`[DONE]`, `message_stop`, `done`), which servers send
    // just before they end the body: reading that end keeps the connection for the pool's next request,
    // where cancelling the body would close it. A broken stream, or a body that does not end soon, is
    // cancelled (that frees the connection by closing it).
    if (!finished && (failed || !(await endsSoon(reader)))) reader.cancel().catch(() => undefined);
  }
}

/** How long a body may go on after its terminator before it is cancelled. */
const END_AFTER_TERMINATOR_MS = 1000;

/** Reads what is left of a body (nothing, or a few bytes) until it ends; false if it does not end soon. */
async function endsSoon(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), END_AFTER_TERMINATOR_MS)));
  try {
    for (let left = 64 * 1024; left > 0; ) {
      const r = await Promise.race([reader.read(), late]);
      if (r === false) return false;
      if (r.done) return true;
      left -= r.value.byteLength;
    }
    return false;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

class StalledError extends Error {
  constructor(readonly ms: number) {
    super(`No data for ${ms} ms.`);
  }
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

/** A failed read of a streamed body: the abort's own error when aborted, else a broken stream (transient). */
function streamError(e: unknown, url: string, signal: AbortSignal, redact: readonly string[]): Error {
  if (signal.aborted) return networkError(e, url, signal, redact);
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
  return new TransientError(redactSecrets(`The streamed reply from ${originOf(url)} broke off (${detail}).`, redact), undefined, { cause: e });
}
