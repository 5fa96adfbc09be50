/**
 * A fake of the two batch services on 127.0.0.1, with the documented request and response shapes:
 * OpenAI's Batch API (`POST /v1/files` multipart with purpose=batch, `POST /v1/batches`,
 * `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel`, `GET /v1/files/{id}/content`) and
 * Anthropic's Message Batches (`POST /v1/messages/batches`, `GET …/{id}`, `POST …/{id}/cancel`, the
 * JSONL at `results_url`), and `DELETE /v1/files/{id}`. Requests are answered like `ModelServer` does (`OUT[id]` + the text
 * upper-cased); a job ends after `pollsBeforeEnd` polls, as completed, expired (only the first
 * `processedBeforeEnd` requests done) or, for OpenAI, failed validation. `script` makes single
 * requests fail, drop chunks or get cut off.
 *
 * Structured requests (#14) are answered as the live fakes answer them: an OpenAI line carrying
 * `response_format` json_schema gets `structuredAnswer` as its content; an Anthropic request forcing a
 * tool gets a `tool_use` block with that answer as `input` and `stop_reason: "tool_use"`.
 */
import * as http from 'http';
import { LocalServer } from './localServer';
import { defaultValue, parseChunks, replyFor, structuredAnswer, type RequestChunk } from './modelServer';

export interface ServedCall {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** JSON body, or for the upload: `{ purpose, filename, lines }` (not read yet when `override` sees the call). */
  body: unknown;
  /** Bytes of the request body as received. */
  size: number;
}

/** One request of a job as the server received it. */
export interface JobRequest {
  customId: string;
  /** OpenAI: the line's body; Anthropic: `params`. */
  body: { model?: string; max_tokens?: number; messages?: { role: string; content: string }[]; system?: string; [k: string]: unknown };
  chunks: RequestChunk[];
}

export type RequestBehaviour =
  | { kind: 'ok'; drop?: string[]; truncated?: boolean }
  /** OpenAI: a line with `response.status_code`; Anthropic: an `errored` result of this error type. */
  | { kind: 'error'; status: number; type: string; message: string };

interface Job {
  id: string;
  provider: 'openai' | 'anthropic';
  requests: JobRequest[];
  polls: number;
  status: string;
  canceled: boolean;
  ended: boolean;
  outputFileId?: string;
  errorFileId?: string;
}

export class BatchServer extends LocalServer {
  readonly calls: ServedCall[] = [];
  readonly jobs = new Map<string, Job>();
  readonly files = new Map<string, string>();
  script: (r: JobRequest) => RequestBehaviour | undefined = () => undefined;
  /** Polls answered "still running" before the job ends. */
  pollsBeforeEnd = 1;
  /** How the job ends: completed, expired (the first `processedBeforeEnd` requests done), failed (OpenAI validation). */
  endAs: 'completed' | 'expired' | 'failed' = 'completed';
  /** Requests done when the job expires or a cancel takes effect. */
  processedBeforeEnd = 0;
  /** OpenAI: the `request_counts` reported while the job runs (the real service counts as it goes). */
  runningCounts = { completed: 0, failed: 0 };
  /** When set, every call must carry this key; a call with another key is refused with a 401 that echoes the key given. */
  requiredKey?: string;
  /** Answers a call in place of the routes (a batch creation that fails, a delete refused…); undefined lets the routes answer. */
  override?: (call: ServedCall) => { status: number; body: unknown } | undefined;
  /** The value of each chunk in a structured answer. */
  structuredValue: (chunk: RequestChunk) => unknown = defaultValue;
  /** Rewrites a result file as it is downloaded (OpenAI output/error file, Anthropic results): damaged lines. */
  damageResults?: (text: string) => string;
  private base = '';
  private counter = 0;

  async start(): Promise<string> {
    this.base = await this.listen();
    return this.base;
  }

  reset(): void {
    this.calls.length = 0;
    this.jobs.clear();
    this.files.clear();
    this.script = () => undefined;
    this.pollsBeforeEnd = 1;
    this.endAs = 'completed';
    this.processedBeforeEnd = 0;
    this.runningCounts = { completed: 0, failed: 0 };
    this.structuredValue = defaultValue;
    this.requiredKey = undefined;
    this.override = undefined;
    this.damageResults = undefined;
  }

  /** Custom ids of every request the server was sent, over all jobs. */
  customIds(): string[] {
    return [...this.jobs.values()].flatMap((j) => j.requests.map((r) => r.customId));
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await new Promise<Buffer>((resolve) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => resolve(Buffer.concat(parts)));
    });
    const url = req.url ?? '';
    const method = req.method ?? 'GET';
    const call: ServedCall = { method, url, headers: req.headers, body: undefined, size: raw.length };
    this.calls.push(call);
    const send = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const anthropic = url.startsWith('/v1/messages/batches');
    let m: RegExpExecArray | null;
    if (this.requiredKey) {
      const given = anthropic ? req.headers['x-api-key'] : req.headers.authorization?.replace(/^Bearer /, '');
      if (given !== this.requiredKey) {
        // The refusal echoes the key it was given, as some real APIs and proxies do: a message built
        // from this body holds the key unless the client redacts it.
        const echoed = `Incorrect API key provided: ${given ?? '(none)'}.`;
        return send(401, anthropic ? { type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key: ${given ?? '(none)'}` } } : { error: { message: echoed, type: 'invalid_request_error', code: 'invalid_api_key' } });
      }
    }
    const forced = this.override?.(call);
    if (forced) return send(forced.status, forced.body);
    if (method === 'DELETE' && (m = /^\/v1\/files\/([^/]+)$/.exec(url))) {
      const id = decodeURIComponent(m[1]);
      if (!this.files.delete(id)) return send(404, { error: { message: `No such File object: ${id}`, type: 'invalid_request_error', param: 'id', code: null } });
      return send(200, { id, object: 'file', deleted: true });
    }
    if (method === 'POST' && url === '/v1/files') {
      const form = await new Response(raw, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      const file = form.get('file') as File | null;
      const text = file ? await file.text() : '';
      call.body = { purpose: form.get('purpose'), filename: file?.name, lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown) };
      if (form.get('purpose') !== 'batch' || !file) return send(400, { error: { message: 'purpose must be batch, with a file', type: 'invalid_request_error' } });
      const id = `file-${++this.counter}`;
      this.files.set(id, text);
      return send(200, { id, object: 'file', bytes: text.length, created_at: 0, filename: file.name, purpose: 'batch' });
    }
    let body: Record<string, unknown> = {};
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      // Not JSON (an upload to a wrong path): answered by the routes below like an empty body.
    }
    call.body = body;
    if (method === 'POST' && url === '/v1/batches') {
      const input = this.files.get(String(body.input_file_id));
      if (!input || body.endpoint !== '/v1/chat/completions' || body.completion_window !== '24h') return send(400, { error: { message: 'bad batch', type: 'invalid_request_error' } });
      const lines = input.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: JobRequest['body'] });
      const job = this.newJob('openai', lines.map((l) => ({ customId: l.custom_id, body: l.body, chunks: chunksOf(l.body) })));
      job.status = 'validating';
      return send(200, this.openaiObject(job));
    }
    if ((m = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(url))) {
      const job = this.jobs.get(decodeURIComponent(m[1]));
      if (!job) return send(404, { error: { message: 'No batch found', type: 'invalid_request_error' } });
      if (m[2] && method === 'POST') {
        job.canceled = true;
        job.status = 'cancelling';
        return send(200, this.openaiObject(job));
      }
      this.advance(job);
      return send(200, this.openaiObject(job));
    }
    if ((m = /^\/v1\/files\/([^/]+)\/content$/.exec(url))) {
      const text = this.files.get(decodeURIComponent(m[1]));
      return text === undefined ? send(404, { error: { message: 'No file', type: 'invalid_request_error' } }) : send(200, this.damageResults ? this.damageResults(text) : text, 'application/octet-stream');
    }
    if (method === 'POST' && url === '/v1/messages/batches') {
      const requests = (body.requests as { custom_id: string; params: JobRequest['body'] }[] | undefined) ?? [];
      if (!requests.length || requests.some((r) => !/^[a-zA-Z0-9_-]{1,64}$/.test(r.custom_id) || !r.params?.max_tokens)) {
        return send(400, { type: 'error', error: { type: 'invalid_request_error', message: 'requests: custom_id must match ^[a-zA-Z0-9_-]{1,64}$ and params need max_tokens' } });
      }
      const job = this.newJob('anthropic', requests.map((r) => ({ customId: r.custom_id, body: r.params, chunks: chunksOf(r.params) })));
      job.status = 'in_progress';
      return send(200, this.anthropicObject(job));
    }
    if ((m = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/.exec(url))) {
      const job = this.jobs.get(decodeURIComponent(m[1]));
      if (!job) return send(404, { type: 'error', error: { type: 'not_found_error', message: 'batch not found' } });
      if (m[2] === '/cancel' && method === 'POST') {
        job.canceled = true;
        job.status = 'canceling';
        return send(200, this.anthropicObject(job));
      }
      if (m[2] === '/results') {
        if (!job.ended) return send(400, { type: 'error', error: { type: 'invalid_request_error', message: 'batch has not ended' } });
        const text = job.requests.map((r, i) => JSON.stringify({ custom_id: r.customId, result: this.anthropicResult(job, r, i) })).join('\n') + '\n';
        return send(200, this.damageResults ? this.damageResults(text) : text, 'application/binary');
      }
      this.advance(job);
      return send(200, this.anthropicObject(job));
    }
    send(404, { error: { message: `no route ${method} ${url}` } });
  }

  private newJob(provider: Job['provider'], requests: JobRequest[]): Job {
    const id = provider === 'openai' ? `batch_${++this.counter}` : `msgbatch_${++this.counter}`;
    const job: Job = { id, provider, requests, polls: 0, status: '', canceled: false, ended: false };
    this.jobs.set(id, job);
    return job;
  }

  /** One poll: the job moves on, and ends after `pollsBeforeEnd` polls (or at the first poll after a cancel). */
  private advance(job: Job): void {
    if (job.ended) return;
    job.polls++;
    if (!job.canceled && job.polls <= this.pollsBeforeEnd) {
      job.status = 'in_progress';
      return;
    }
    job.ended = true;
    if (job.provider === 'anthropic') {
      job.status = 'ended';
      return;
    }
    job.status = job.canceled ? 'cancelled' : this.endAs;
    if (job.status === 'failed') return;
    const out: string[] = [];
    const err: string[] = [];
    job.requests.forEach((r, i) => {
      const done = this.processed(job, i);
      if (!done) {
        // Unfinished requests are reported in the error file (the documented codes).
        err.push(JSON.stringify({ id: `batch_req_${i}`, custom_id: r.customId, response: null, error: { code: job.canceled ? 'batch_cancelled' : 'batch_expired', message: job.canceled ? 'This request was cancelled.' : 'This request could not be executed before the completion window expired.' } }));
        return;
      }
      const b = this.script(r) ?? { kind: 'ok' };
      if (b.kind === 'error') {
        err.push(JSON.stringify({ id: `batch_req_${i}`, custom_id: r.customId, response: { status_code: b.status, request_id: `req_${i}`, body: { error: { message: b.message, type: b.type, code: null } } }, error: null }));
        return;
      }
      const structured = (r.body.response_format as { type?: string } | undefined)?.type === 'json_schema';
      const text = structured ? structuredAnswer(r.chunks, this.structuredValue, b.drop) : replyFor(r.chunks, b.drop);
      out.push(JSON.stringify({ id: `batch_req_${i}`, custom_id: r.customId, response: { status_code: 200, request_id: `req_${i}`, body: { id: `chatcmpl-${i}`, object: 'chat.completion', model: r.body.model, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: b.truncated ? 'length' : 'stop' }], usage: { prompt_tokens: 100, completion_tokens: 40, total_tokens: 140 } } }, error: null }));
    });
    if (out.length) this.files.set((job.outputFileId = `file-${++this.counter}`), out.join('\n') + '\n');
    if (err.length) this.files.set((job.errorFileId = `file-${++this.counter}`), err.join('\n') + '\n');
  }

  private processed(job: Job, index: number): boolean {
    return (!job.canceled && this.endAs === 'completed') || index < this.processedBeforeEnd;
  }

  private anthropicResult(job: Job, r: JobRequest, i: number): unknown {
    if (!this.processed(job, i)) return { type: job.canceled ? 'canceled' : 'expired' };
    const b = this.script(r) ?? { kind: 'ok' };
    if (b.kind === 'error') return { type: 'errored', error: { type: 'error', error: { type: b.type, message: b.message } } };
    const choice = r.body.tool_choice as { type?: string; name?: string } | undefined;
    if (Array.isArray(r.body.tools) && choice?.type === 'tool') {
      const input = JSON.parse(structuredAnswer(r.chunks, this.structuredValue, b.drop)) as unknown;
      const content = [{ type: 'tool_use', id: `toolu_${i}`, name: choice.name, input }];
      return { type: 'succeeded', message: { id: `msg_${i}`, type: 'message', role: 'assistant', model: r.body.model, content, stop_reason: b.truncated ? 'max_tokens' : 'tool_use', stop_sequence: null, usage: { input_tokens: 100, output_tokens: 40 } } };
    }
    const text = replyFor(r.chunks, b.drop);
    return { type: 'succeeded', message: { id: `msg_${i}`, type: 'message', role: 'assistant', model: r.body.model, content: [{ type: 'text', text }], stop_reason: b.truncated ? 'max_tokens' : 'end_turn', stop_sequence: null, usage: { input_tokens: 100, output_tokens: 40 } } };
  }

  private openaiObject(job: Job): unknown {
    const total = job.requests.length;
    let { completed, failed } = job.ended ? { completed: 0, failed: 0 } : this.runningCounts;
    if (job.ended && job.status !== 'failed') {
      job.requests.forEach((r, i) => {
        if (this.processed(job, i) && (this.script(r) ?? { kind: 'ok' }).kind === 'ok') completed++;
        else failed++;
      });
    }
    return {
      id: job.id,
      object: 'batch',
      endpoint: '/v1/chat/completions',
      errors: job.status === 'failed' ? { object: 'list', data: [{ code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', param: null, line: 1 }] } : null,
      input_file_id: 'file-in',
      completion_window: '24h',
      status: job.status,
      output_file_id: job.outputFileId ?? null,
      error_file_id: job.errorFileId ?? null,
      created_at: 0,
      request_counts: { total, completed, failed },
      metadata: null,
    };
  }

  private anthropicObject(job: Job): unknown {
    const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
    job.requests.forEach((r, i) => {
      if (!job.ended) counts.processing++;
      else if (!this.processed(job, i)) counts[job.canceled ? 'canceled' : 'expired']++;
      else if ((this.script(r) ?? { kind: 'ok' }).kind === 'error') counts.errored++;
      else counts.succeeded++;
    });
    return {
      id: job.id,
      type: 'message_batch',
      processing_status: job.status,
      request_counts: counts,
      ended_at: job.ended ? new Date().toISOString() : null,
      created_at: new Date().toISOString(),
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
      cancel_initiated_at: job.canceled ? new Date().toISOString() : null,
      results_url: job.ended ? `${this.base}/v1/messages/batches/${job.id}/results` : null,
    };
  }
}

function chunksOf(body: JobRequest['body'] | undefined): RequestChunk[] {
  return parseChunks((body?.messages ?? []).map((m) => m.content).join('\n'));
}
