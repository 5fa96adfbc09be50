import type { BatchResult, MalformedResultLine } from '../../core/jobs/job';
import { ConfigError, type BatchPromptError } from '../../core/execute/errors';
import { lowerCaseHeaders, originOf, postJson, readReply, send, type HttpReply } from '../http/http';
import { redactSecrets } from '../../util/redact';

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

/** A line of a JSONL document that is not JSON: its 1-based number and its text. */
export interface BadJsonlLine {
  line: number;
  text: string;
}

/** Lines of a JSONL document as objects; blank lines are skipped, malformed ones returned with their numbers. */
export function parseJsonl<T>(text: string): { items: T[]; malformed: BadJsonlLine[] } {
  const items: T[] = [];
  const malformed: BadJsonlLine[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    try {
      items.push(JSON.parse(line) as T);
    } catch {
      malformed.push({ line: i + 1, text: line });
    }
  }
  return { items, malformed };
}

/** The `custom_id` a malformed result line still shows (a cut or garbled line keeps its start), if any. */
export function recoverCustomId(text: string): string | undefined {
  return /"custom_id"\s*:\s*"([A-Za-z0-9_-]{1,64})"/.exec(text)?.[1];
}

/**
 * The malformed lines of a result file, never dropped: a line whose `custom_id` can be read fails
 * that request (`bad-reply`, naming the line); the others are returned for the collect to fail every
 * request left without a result. `where` names the file in messages ("the output file file-abc").
 */
export function malformedResults(lines: readonly BadJsonlLine[], where: string): { results: BatchResult[]; unattributed: MalformedResultLine[] } {
  const results: BatchResult[] = [];
  const unattributed: MalformedResultLine[] = [];
  for (const l of lines) {
    const customId = recoverCustomId(l.text);
    if (customId) results.push({ customId, ok: false, status: 'failed', error: { kind: 'bad-reply', message: `Line ${l.line} of ${where}, the result of request ${customId}, is not valid JSON; its reply is lost. Retry it.` } });
    else unattributed.push({ line: l.line, where });
  }
  return { results, unattributed };
}
