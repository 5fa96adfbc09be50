import type { BatchApi, BatchLimits, BatchRequest, BatchResult, BatchResults, EncodedBatch, JobState } from '../../core/jobs/job';
import { BadReplyError, describeError, type ErrorKind } from '../../core/execute/errors';
import { batchError, byteLength, excerpt, malformedResults, parseJsonl, postJsonWithTimeout, sendRequest } from './batchHttp';
import { credentialHeaderValues, requestHeaders, type HttpReply } from '../http/http';
import { chatCompletionBody, openAIError, parseChatCompletion } from '../openaiCompatible';
import { redactSecrets } from '../../util/redact';

export interface OpenAIBatchOptions {
  /** e.g. `https://api.openai.com/v1`; `/files` and `/batches` are appended. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  temperature?: number;
  headers?: Record<string, string>;
  /** Overrides of the documented limits (tests). */
  limits?: Partial<BatchLimits>;
}

/** The documented limits of one input file: 50,000 requests, 200 MB. */
export const OPENAI_BATCH_LIMITS: BatchLimits = { maxRequests: 50_000, maxBytes: 200_000_000 };

/** The Batch API's only completion window. */
export const OPENAI_COMPLETION_WINDOW = '24h';
export const OPENAI_BATCH_ENDPOINT = '/v1/chat/completions';

interface OpenAIBatchObject {
  id?: string;
  status?: string;
  input_file_id?: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  request_counts?: { total?: number; completed?: number; failed?: number } | null;
  errors?: { data?: { code?: string; message?: string; line?: number | null }[] } | null;
}

interface OutputLine {
  custom_id?: string;
  response?: { status_code?: number; body?: unknown } | null;
  error?: { code?: string; message?: string } | null;
}

const ENDED = new Set(['completed', 'failed', 'expired', 'cancelled']);

/**
 * The OpenAI Batch API: the requests go up as one JSONL file (`POST /files`, `purpose=batch`), one
 * `POST /v1/chat/completions` line per request with the batch id as `custom_id`; `POST /batches`
 * creates the job (24 h window), `GET /batches/{id}` polls it, and the output and error files
 * (`GET /files/{id}/content`) hold one line per request: `{ custom_id, response: { status_code, body }, error }`.
 */
export class OpenAIBatchApi implements BatchApi {
  readonly provider = 'openai' as const;
  readonly limits: BatchLimits;
  private readonly base: string;

  constructor(private readonly options: OpenAIBatchOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.limits = { ...OPENAI_BATCH_LIMITS, ...options.limits };
  }

  /** The JSONL input file: one line per request, its body built as the live request's (`response_format` included). */
  encode(requests: readonly BatchRequest[]): EncodedBatch {
    const parts = requests.map((r) => {
      const body = chatCompletionBody(this.options.model, r, { temperature: this.options.temperature });
      return `${JSON.stringify({ custom_id: r.customId, method: 'POST', url: OPENAI_BATCH_ENDPOINT, body })}\n`;
    });
    return { requests: requests.length, bytes: byteLength(parts), parts };
  }

  async submit(batch: EncodedBatch, signal?: AbortSignal): Promise<{ jobId: string; inputFileId: string; state: JobState }> {
    const form = new FormData();
    form.append('purpose', 'batch');
    form.append('file', new Blob(batch.parts as string[], { type: 'application/jsonl' }), 'batch-prompt.jsonl');
    const filesUrl = `${this.base}/files`;
    const upload = await sendRequest(filesUrl, { method: 'POST', headers: this.headers(), body: form }, signal, this.secrets());
    if (!ok(upload)) throw batchError(upload, 'the file upload', filesUrl, openAIError, this.secrets());
    const fileId = (upload.body as { id?: string } | undefined)?.id;
    if (!fileId) throw new BadReplyError(`The file upload's reply has no file id: ${excerpt(upload, this.secrets())}`);
    try {
      const batchesUrl = `${this.base}/batches`;
      const created = await postJsonWithTimeout(batchesUrl, { input_file_id: fileId, endpoint: OPENAI_BATCH_ENDPOINT, completion_window: OPENAI_COMPLETION_WINDOW }, this.headers(), signal, this.secrets());
      if (!ok(created)) throw batchError(created, 'the batch creation', batchesUrl, openAIError, this.secrets());
      const batchObject = created.body as OpenAIBatchObject | undefined;
      if (!batchObject?.id) throw new BadReplyError(`The batch creation's reply has no batch id: ${excerpt(created, this.secrets())}`);
      return { jobId: batchObject.id, inputFileId: fileId, state: stateOf(batchObject, batch.requests) };
    } catch (e) {
      // No batch will ever read the uploaded file: delete it, so it does not stay in the account's storage.
      const left = await this.deleteFile(fileId);
      if (left && e instanceof Error) e.message += ` The uploaded input file ${fileId} could not be deleted (${left}); delete it from the account's files.`;
      throw e;
    }
  }

  /** Deletes an uploaded file, best-effort, without the caller's signal (a cancel must still clean up); the reason when it failed. */
  async deleteFile(fileId: string): Promise<string | undefined> {
    const url = `${this.base}/files/${encodeURIComponent(fileId)}`;
    try {
      const reply = await sendRequest(url, { method: 'DELETE', headers: this.headers() }, undefined, this.secrets());
      return ok(reply) ? undefined : `HTTP ${reply.status}`;
    } catch (e) {
      return redactSecrets(e instanceof Error ? e.message : String(e), this.secrets());
    }
  }

  async poll(jobId: string, signal?: AbortSignal): Promise<JobState> {
    const url = `${this.base}/batches/${encodeURIComponent(jobId)}`;
    const reply = await sendRequest(url, { method: 'GET', headers: this.headers() }, signal, this.secrets());
    if (!ok(reply)) throw batchError(reply, `the status of batch ${jobId}`, url, openAIError, this.secrets());
    return stateOf(reply.body as OpenAIBatchObject);
  }

  async cancel(jobId: string, signal?: AbortSignal): Promise<JobState> {
    const url = `${this.base}/batches/${encodeURIComponent(jobId)}/cancel`;
    const reply = await postJsonWithTimeout(url, {}, this.headers(), signal, this.secrets());
    if (!ok(reply)) throw batchError(reply, `the cancellation of batch ${jobId}`, url, openAIError, this.secrets());
    return stateOf(reply.body as OpenAIBatchObject);
  }

  async results(_jobId: string, state: JobState, signal?: AbortSignal): Promise<BatchResults> {
    const out: BatchResults = { results: [], malformed: [] };
    for (const [fileId, name] of [[state.outputFileId, 'output file'], [state.errorFileId, 'error file']] as const) {
      if (!fileId) continue;
      const url = `${this.base}/files/${encodeURIComponent(fileId)}/content`;
      const reply = await sendRequest(url, { method: 'GET', headers: this.headers() }, signal, this.secrets());
      if (!ok(reply)) throw batchError(reply, `the download of file ${fileId}`, url, openAIError, this.secrets());
      const parsed = parseJsonl<OutputLine>(reply.text);
      for (const line of parsed.items) {
        const r = resultOf(line, this.secrets());
        if (r) out.results.push(r);
      }
      const bad = malformedResults(parsed.malformed, `the batch's ${name} ${fileId}`);
      out.results.push(...bad.results);
      out.malformed.push(...bad.unattributed);
    }
    return out;
  }

  private headers(): Record<string, string> {
    return requestHeaders(this.options.headers, this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {});
  }

  private secrets(): string[] {
    return [...(this.options.apiKey ? [this.options.apiKey] : []), ...credentialHeaderValues(this.options.headers)];
  }
}

function ok(reply: HttpReply): boolean {
  return reply.status >= 200 && reply.status < 300;
}

/** The provider's batch object in the shared words. */
export function stateOf(batch: OpenAIBatchObject | undefined, total?: number): JobState {
  const status = batch?.status ?? 'unknown';
  const c = batch?.request_counts ?? {};
  const t = c.total || total || 0;
  const succeeded = c.completed ?? 0;
  const failed = c.failed ?? 0;
  const errors = (batch?.errors?.data ?? []).map((e) => `${e.code ?? 'error'}${e.line ? ` (line ${e.line})` : ''}: ${e.message ?? ''}`);
  return {
    providerStatus: status,
    ended: ENDED.has(status),
    // An expired or cancelled job processes nothing more, whatever its counts leave over.
    counts: { total: t, succeeded, failed, processing: ENDED.has(status) ? 0 : Math.max(0, t - succeeded - failed) },
    ...(batch?.output_file_id ? { outputFileId: batch.output_file_id } : {}),
    ...(batch?.error_file_id ? { errorFileId: batch.error_file_id } : {}),
    ...(status === 'failed' ? { failure: errors.join('; ') || 'the batch failed validation' } : {}),
  };
}

/** One output or error line as a result; undefined for a line without `custom_id`. */
export function resultOf(line: OutputLine, secrets: readonly string[] = []): BatchResult | undefined {
  const customId = line.custom_id;
  if (typeof customId !== 'string') return undefined;
  if (line.error) {
    const code = line.error.code ?? 'error';
    const message = `${line.error.message ?? code} (${code})`;
    if (code === 'batch_cancelled') return { customId, ok: false, status: 'canceled', error: { kind: 'canceled', message: `The batch job was canceled before this request ran.` } };
    const kind: ErrorKind = code === 'batch_expired' ? 'timeout' : 'invalid-request';
    return { customId, ok: false, status: 'failed', error: { kind, message: code === 'batch_expired' ? `The batch job expired (24 h window) before this request ran. Retry it.` : `The batch request failed: ${message}` } };
  }
  const response = line.response;
  const status = response?.status_code ?? 0;
  const reply: HttpReply = { status, headers: new Headers(), body: response?.body, text: JSON.stringify(response?.body ?? null) };
  if (status < 200 || status >= 300) return { customId, ok: false, status: 'failed', error: describeError(openAIError(reply, secrets)) };
  try {
    return { customId, ok: true, response: parseChatCompletion(reply) };
  } catch (e) {
    return { customId, ok: false, status: 'failed', error: describeError(e) };
  }
}
