import type { BatchApi, BatchLimits, BatchRequest, BatchResult, BatchResults, EncodedBatch, JobState } from '../../core/jobs/job';
import { BadReplyError, ConfigError, describeError } from '../../core/execute/errors';
import { ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_VERSION, anthropicError, anthropicMessageParams, parseAnthropicMessage } from '../anthropic';
import { batchError, byteLength, excerpt, malformedResults, parseJsonl, postJsonWithTimeout, sendRequest } from './batchHttp';
import { credentialHeaderValues, originOf, requestHeaders, type HttpReply } from '../http/http';

export interface AnthropicBatchOptions {
  /** Default `https://api.anthropic.com`; `/v1/messages/batches` is appended. */
  baseUrl?: string;
  model: string;
  apiKey?: string;
  maxOutputTokens?: number;
  temperature?: number;
  headers?: Record<string, string>;
  /** Overrides of the documented limits (tests). */
  limits?: Partial<BatchLimits>;
}

/** The documented limits of one Message Batch: 100,000 requests or 256 MB, whichever comes first. */
export const ANTHROPIC_BATCH_LIMITS: BatchLimits = { maxRequests: 100_000, maxBytes: 256_000_000 };

interface MessageBatch {
  id?: string;
  processing_status?: string;
  request_counts?: { processing?: number; succeeded?: number; errored?: number; canceled?: number; expired?: number };
  results_url?: string | null;
}

interface ResultLine {
  custom_id?: string;
  result?: { type?: string; message?: unknown; error?: { type?: string; error?: { type?: string; message?: string } } };
}

/** HTTP statuses of Anthropic's error types, so that an errored result is typed like the same error over HTTP. */
const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

/**
 * Anthropic's Message Batches: `POST /v1/messages/batches` with `requests: [{ custom_id, params }]`
 * (params as for `/v1/messages`), `GET /v1/messages/batches/{id}` until `processing_status` is
 * `ended`, then the JSONL at `results_url`: one `{ custom_id, result: { type: succeeded | errored |
 * canceled | expired, … } }` per request, in any order.
 */
export class AnthropicBatchApi implements BatchApi {
  readonly provider = 'anthropic' as const;
  readonly limits: BatchLimits;
  private readonly base: string;

  constructor(private readonly options: AnthropicBatchOptions) {
    this.base = `${(options.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL).replace(/\/+$/, '')}/v1/messages/batches`;
    this.limits = { ...ANTHROPIC_BATCH_LIMITS, ...options.limits };
  }

  /** The body of the create call, `{ "requests": [{ custom_id, params }, …] }`, one piece per request. */
  encode(requests: readonly BatchRequest[]): EncodedBatch {
    const parts = ['{"requests":['];
    requests.forEach((r, i) => parts.push(`${i ? ',' : ''}${JSON.stringify(this.request(r))}`));
    parts.push(']}');
    return { requests: requests.length, bytes: byteLength(parts), parts };
  }

  /** One request: `params` built as the live request's (the structured route's forced tool included). */
  private request(r: BatchRequest): { custom_id: string; params: Record<string, unknown> } {
    return { custom_id: r.customId, params: anthropicMessageParams(this.options.model, r, this.options) };
  }

  async submit(batch: EncodedBatch, signal?: AbortSignal): Promise<{ jobId: string; state: JobState }> {
    const headers = { ...this.headers(), 'content-type': 'application/json', accept: 'application/json' };
    const reply = await sendRequest(this.base, { method: 'POST', headers, body: new Blob(batch.parts as string[]) }, signal, this.secrets());
    if (!ok(reply)) throw batchError(reply, 'the batch creation', this.base, anthropicError, this.secrets());
    const created = reply.body as MessageBatch | undefined;
    if (!created?.id) throw new BadReplyError(`The batch creation's reply has no batch id: ${excerpt(reply, this.secrets())}`);
    return { jobId: created.id, state: stateOf(created) };
  }

  async poll(jobId: string, signal?: AbortSignal): Promise<JobState> {
    const url = `${this.base}/${encodeURIComponent(jobId)}`;
    const reply = await sendRequest(url, { method: 'GET', headers: this.headers() }, signal, this.secrets());
    if (!ok(reply)) throw batchError(reply, `the status of batch ${jobId}`, url, anthropicError, this.secrets());
    return stateOf(reply.body as MessageBatch);
  }

  async cancel(jobId: string, signal?: AbortSignal): Promise<JobState> {
    const url = `${this.base}/${encodeURIComponent(jobId)}/cancel`;
    const reply = await postJsonWithTimeout(url, {}, this.headers(), signal, this.secrets());
    if (!ok(reply)) throw batchError(reply, `the cancellation of batch ${jobId}`, url, anthropicError, this.secrets());
    return stateOf(reply.body as MessageBatch);
  }

  async results(jobId: string, state: JobState, signal?: AbortSignal): Promise<BatchResults> {
    const url = state.resultsUrl ?? `${this.base}/${encodeURIComponent(jobId)}/results`;
    // The key goes only to the endpoint's own origin, whatever URL a reply names.
    if (originOf(url) !== originOf(this.base)) throw new ConfigError(`The batch's results_url (${originOf(url)}) is not on the endpoint's origin (${originOf(this.base)}); refusing to send the key there.`);
    const reply = await sendRequest(url, { method: 'GET', headers: this.headers() }, signal, this.secrets());
    if (!ok(reply)) throw batchError(reply, `the results of batch ${jobId}`, url, anthropicError, this.secrets());
    const parsed = parseJsonl<ResultLine>(reply.text);
    const bad = malformedResults(parsed.malformed, `the batch's results file`);
    const results = parsed.items.flatMap((line) => {
      const r = resultOf(line, this.secrets());
      return r ? [r] : [];
    });
    return { results: [...results, ...bad.results], malformed: bad.unattributed };
  }

  private headers(): Record<string, string> {
    const auth: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION };
    if (this.options.apiKey) auth['x-api-key'] = this.options.apiKey;
    return requestHeaders(this.options.headers, auth);
  }

  private secrets(): string[] {
    return [...(this.options.apiKey ? [this.options.apiKey] : []), ...credentialHeaderValues(this.options.headers)];
  }
}

function ok(reply: HttpReply): boolean {
  return reply.status >= 200 && reply.status < 300;
}

export function stateOf(batch: MessageBatch | undefined): JobState {
  const c = batch?.request_counts ?? {};
  const processing = c.processing ?? 0;
  const succeeded = c.succeeded ?? 0;
  const failed = (c.errored ?? 0) + (c.canceled ?? 0) + (c.expired ?? 0);
  const status = batch?.processing_status ?? 'unknown';
  return {
    providerStatus: status,
    ended: status === 'ended',
    counts: { total: processing + succeeded + failed, succeeded, failed, processing },
    ...(batch?.results_url ? { resultsUrl: batch.results_url } : {}),
  };
}

/** One result line in the shared words; undefined for a line without `custom_id`. */
export function resultOf(line: ResultLine, secrets: readonly string[] = []): BatchResult | undefined {
  const customId = line.custom_id;
  if (typeof customId !== 'string') return undefined;
  const result = line.result ?? {};
  switch (result.type) {
    case 'succeeded': {
      const reply: HttpReply = { status: 200, headers: new Headers(), body: result.message, text: JSON.stringify(result.message ?? null) };
      try {
        return { customId, ok: true, response: parseAnthropicMessage(reply) };
      } catch (e) {
        return { customId, ok: false, status: 'failed', error: describeError(e) };
      }
    }
    case 'errored': {
      // `error` is the same object an HTTP error reply carries: { type: "error", error: { type, message } }.
      const body = result.error ?? {};
      const type = body.error?.type ?? '';
      const reply: HttpReply = { status: STATUS_OF_TYPE[type] ?? 400, headers: new Headers(), body, text: JSON.stringify(body) };
      return { customId, ok: false, status: 'failed', error: describeError(anthropicError(reply, secrets)) };
    }
    case 'canceled':
      return { customId, ok: false, status: 'canceled', error: { kind: 'canceled', message: 'The batch job was canceled before this request ran.' } };
    case 'expired':
      return { customId, ok: false, status: 'failed', error: { kind: 'timeout', message: 'The batch job expired (24 h window) before this request ran. Retry it.' } };
    default:
      return { customId, ok: false, status: 'failed', error: { kind: 'bad-reply', message: `The batch result has an unknown type "${String(result.type)}".` } };
  }
}
