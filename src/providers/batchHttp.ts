import { ConfigError, type BatchPromptError } from '../core/errors';
import { lowerCaseHeaders, originOf, postJson, readReply, redactSecrets, send, type HttpReply } from './http';

/** Every call of a batch API (upload, create, poll, download) gets this long at most. */
export const BATCH_HTTP_TIMEOUT_MS = 120_000;

/** The caller's signal (if any) combined with the per-call timeout. */
function withTimeout(signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(BATCH_HTTP_TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** Sends one request and reads the whole reply (JSON parsed when it is JSON); network failures are typed as in `postJson`. */
export async function sendRequest(url: string, init: { method: 'GET' | 'POST' | 'DELETE'; headers: Record<string, string>; body?: FormData | Blob }, signal: AbortSignal | undefined, redact: readonly string[]): Promise<HttpReply> {
  const s = withTimeout(signal);
  const res = await send(url, { method: init.method, headers: lowerCaseHeaders(init.headers), body: init.body }, s, redact);
  return readReply(res, url, s, redact);
}

/** `postJson` with the per-call timeout. */
export function postJsonWithTimeout(url: string, payload: unknown, headers: Record<string, string>, signal: AbortSignal | undefined, redact: readonly string[]): Promise<HttpReply> {
  return postJson(url, payload, headers, withTimeout(signal), redact);
}

/**
 * Types an error reply of a batch endpoint with the provider's own mapping, except a 404: there it
 * means the service or the job is missing (a server without a batch API, a job id the provider
 * does not know), never a missing model.
 */
export function batchError(reply: HttpReply, what: string, url: string, map: (reply: HttpReply, secrets: readonly string[]) => BatchPromptError, secrets: readonly string[]): BatchPromptError {
  if (reply.status === 404) {
    const detail = redactSecrets(reply.text, secrets).slice(0, 200);
    return new ConfigError(`${originOf(url)} answered 404 to ${what}: it offers no batch API there, or does not know this job${detail ? ` (${detail})` : ''}.`);
  }
  return map(reply, secrets);
}

/** Sum of the UTF-8 sizes of `parts`: the size of the Blob they make. */
export function byteLength(parts: readonly string[]): number {
  let n = 0;
  for (const p of parts) n += Buffer.byteLength(p, 'utf8');
  return n;
}

/** A reply's first characters for a message, with the secrets taken out (a proxy may echo headers). */
export function excerpt(reply: HttpReply, secrets: readonly string[], max = 120): string {
  return redactSecrets(reply.text, secrets).slice(0, max);
}

/** Lines of a JSONL document as objects; blank and malformed lines are skipped (counted). */
export function parseJsonl<T>(text: string): { items: T[]; malformed: number } {
  const items: T[] = [];
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      items.push(JSON.parse(line) as T);
    } catch {
      malformed++;
    }
  }
  return { items, malformed };
}
