/**
 * A scriptable OpenAI-compatible model server on 127.0.0.1 for tests: it reads the chunks of each
 * request (the protocol's `<chunk id path lines>` format) and, by default, answers every chunk with
 * `OUT[id]` followed by the chunk's text upper-cased. A `script` decides per request: answer, delay,
 * fail with a status and body, hang, reset the connection, overflow above a token limit, drop results.
 *
 * Structured mode (#14): a request with `response_format: { type: "json_schema" }` is answered, unless
 * the script gives a `reply`, with `structuredAnswer` (`{"results":[{id, value}]}`, one value per chunk
 * from `structuredValue`); with `refuseStructured` set, such a request gets that refusal instead (the
 * real servers' bodies are in `STRUCTURED_REFUSALS`).
 */
import * as http from 'http';
import { LocalServer, readJsonBody } from './localServer';
import { textDeltas, writeStream, type StreamScript } from './streamWriter';

export interface RequestChunk {
  id: string;
  path: string;
  lines: string;
  text: string;
}

export interface ServedRequest {
  /** 1-based order of arrival. */
  n: number;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: { model?: string; messages?: { role: string; content: string }[]; max_tokens?: number; [k: string]: unknown };
  chunks: RequestChunk[];
  /** Characters of all message contents: a stand-in for tokens. */
  chars: number;
  receivedAt: number;
  /** Set when the client closed the connection before the reply was complete (an abort, a cancel, a kill). */
  closedByClient?: boolean;
}

export type Behaviour =
  | { kind: 'ok'; delayMs?: number; /** The reply waits for this (a test releases answers one by one). */ after?: Promise<unknown>; drop?: string[]; extra?: string; reply?: string; finishReason?: string; headers?: Record<string, string>; stream?: StreamScript; streamError?: unknown }
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number }
  | { kind: 'hang' }
  | { kind: 'reset' };

export type Script = (req: ServedRequest) => Behaviour | undefined;

const CHUNK_RE = /<chunk id="([^"]*)" path="([^"]*)" lines="([^"]*)">\n([\s\S]*?)\n<\/chunk>/g;

export function parseChunks(content: string): RequestChunk[] {
  return [...content.matchAll(CHUNK_RE)].map((m) => ({ id: m[1], path: m[2], lines: m[3], text: m[4] }));
}

/** The default answer for one chunk. */
export function defaultOutput(chunk: RequestChunk): string {
  return `OUT[${chunk.id}]\n${chunk.text.toUpperCase()}`;
}

export function replyFor(chunks: RequestChunk[], drop: string[] = []): string {
  return chunks
    .filter((c) => !drop.includes(c.id))
    .map((c) => `<result id="${c.id}">\n${defaultOutput(c)}\n</result>`)
    .join('\n');
}

/**
 * A chunk's default structured value: a valid `findings` value with one warning on the chunk's first
 * line whose message is `OUT[<id>]`.
 */
export function defaultValue(chunk: RequestChunk): unknown {
  const first = Number(/^(\d+)/.exec(chunk.lines)?.[1] ?? 1);
  return { findings: [{ line: first, severity: 'warning', message: `OUT[${chunk.id}]` }] };
}

/** The structured answer to a batch: `{"results":[{"id","value"}]}` for every chunk not dropped. */
export function structuredAnswer(chunks: RequestChunk[], valueOf: (c: RequestChunk) => unknown = defaultValue, drop: string[] = []): string {
  return JSON.stringify({ results: chunks.filter((c) => !drop.includes(c.id)).map((c) => ({ id: c.id, value: valueOf(c) })) });
}

/** How real OpenAI-compatible servers refuse `response_format` json_schema: status and body, as they send them. */
export const STRUCTURED_REFUSALS = {
  /** llama.cpp server before json_schema support (ik_llama.cpp#778): a 500. */
  llamaCpp: { status: 500, body: { error: { code: 500, message: 'response_format type must be one of "text" or "json_object", but got: json_schema', type: 'server_error' } } },
  /** llama.cpp, a schema it cannot turn into a grammar. */
  llamaCppSchema: { status: 400, body: { error: { code: 400, message: 'JSON schema conversion failed:\nUnrecognized schema: {"description":"x"}', type: 'invalid_request_error' } } },
  /** LM Studio (lmstudio-bug-tracker#169): a bare string error. */
  lmStudio: { status: 400, body: { error: "'response_format.type' must be 'json_schema' or 'text'" } },
  /** vLLM with the xgrammar backend (vllm#16880). */
  vllm: { status: 400, body: { object: 'error', message: 'The provided JSON schema contains features not supported by xgrammar.', type: 'BadRequestError', param: null, code: 400 } },
  /** A LiteLLM proxy in front of a model without it. */
  litellm: { status: 400, body: { error: { message: "litellm.UnsupportedParamsError: ollama does not support parameters: ['response_format'], for model=llama2. To drop these, set `litellm.drop_params=True` or for proxy:\n\n`litellm_settings:\n drop_params: true`\n", type: 'None', param: null, code: '400' } } },
  /** Azure OpenAI with an api-version older than 2024-08-01-preview. */
  azureOldApi: { status: 400, body: { error: { code: 'BadRequest', message: 'response_format value as json_schema is enabled only for api versions 2024-08-01-preview and later' } } },
} as const;

export class ModelServer extends LocalServer {
  readonly requests: ServedRequest[] = [];
  script: Script = () => undefined;
  /** Requests with more message characters than this get a 400 `context_length_exceeded`. */
  maxChars = Infinity;
  /** The value of each chunk in a structured answer. */
  structuredValue: (chunk: RequestChunk) => unknown = defaultValue;
  /** When set, a request carrying `response_format` gets this status and body (see `STRUCTURED_REFUSALS`). */
  refuseStructured?: { status: number; body: unknown };
  /** The models `GET /v1/models` lists. */
  listedModels: string[] = ['ui-test-model', 'ui-other-model'];
  /** Each `GET /v1/models` received (not counted in `requests`). */
  readonly listRequests: { url: string; headers: http.IncomingHttpHeaders }[] = [];
  private inFlight = 0;
  /** Most requests seen in flight at once. */
  peakInFlight = 0;
  /** Arrivals and answers (200 replies, usage included) in the order they happened (the spend cap test replays them). */
  readonly log: ({ n: number; event: 'received' } | { n: number; event: 'answered'; usage: { prompt_tokens: number; completion_tokens: number } })[] = [];

  reset(): void {
    this.script = () => undefined;
    this.requests.length = 0;
    this.log.length = 0;
    this.maxChars = Infinity;
    this.peakInFlight = 0;
    this.structuredValue = defaultValue;
    this.refuseStructured = undefined;
    this.listRequests.length = 0;
  }

  async start(): Promise<string> {
    return `${await this.listen()}/v1`;
  }

  /** Ids of every chunk the server was sent, in arrival order (with repeats). */
  sentChunkIds(): string[] {
    return this.requests.flatMap((r) => r.chunks.map((c) => c.id));
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method === 'GET' && /\/models$/.test(new URL(req.url ?? '/', 'http://x').pathname)) {
      // The OpenAI-compatible model list (`GET /v1/models`), as "Add Model…" reads it.
      this.listRequests.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: this.listedModels.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'test' })) }));
      return;
    }
    const body: ServedRequest['body'] = await readJsonBody(req);
    const content = (body.messages ?? []).map((m) => m.content).join('\n');
    const served: ServedRequest = {
      n: this.requests.length + 1,
      url: req.url ?? '',
      headers: req.headers,
      body,
      chunks: parseChunks(content),
      chars: content.length,
      receivedAt: Date.now(),
    };
    this.requests.push(served);
    this.log.push({ n: served.n, event: 'received' });
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    res.on('close', () => {
      this.inFlight--;
      if (!res.writableFinished) served.closedByClient = true;
    });

    const structured = (body.response_format as { type?: string } | undefined)?.type === 'json_schema';
    let b: Behaviour = this.script(served) ?? (structured && this.refuseStructured ? { kind: 'status', ...this.refuseStructured } : { kind: 'ok' });
    if (b.kind === 'ok' && served.chars > this.maxChars) {
      b = { kind: 'status', status: 400, body: { error: { message: `This model's maximum context length is ${this.maxChars} tokens.`, type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } } };
    }
    if (b.kind === 'hang') return;
    if (b.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
    if (b.kind === 'ok' && b.after) await b.after;
    if (res.destroyed) return;
    if (b.kind === 'status') {
      res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers });
      res.end(JSON.stringify(b.body ?? { error: { message: `status ${b.status}`, type: 'server_error', code: null } }));
      return;
    }
    const text = b.reply ?? (b.extra ?? '') + (structured ? structuredAnswer(served.chunks, this.structuredValue, b.drop) : replyFor(served.chunks, b.drop));
    if (body.stream === true) {
      await writeStream(req, res, 'text/event-stream; charset=utf-8', chatCompletionEvents(served, text, b), b.stream, b.headers);
      return;
    }
    const usage = { prompt_tokens: Math.ceil(served.chars / 4), completion_tokens: Math.ceil(text.length / 4) };
    this.log.push({ n: served.n, event: 'answered', usage });
    res.writeHead(200, { 'content-type': 'application/json', ...b.headers });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${served.n}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model ?? 'test',
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: b.finishReason ?? 'stop' }],
        usage: { prompt_tokens: Math.ceil(served.chars / 4), completion_tokens: Math.ceil(text.length / 4), total_tokens: Math.ceil((served.chars + text.length) / 4) },
      }),
    );
  }
}

/**
 * A streamed chat completion as OpenAI sends it: `data:` events of `chat.completion.chunk`s (the role,
 * then the text a few characters at a time, then an empty delta with `finish_reason`), a usage chunk with
 * empty `choices` when `stream_options.include_usage` is set, and `data: [DONE]`. A comment line leads
 * (as keep-alives do). With `streamError`, an `{ error }` event replaces the end of the stream.
 */
function chatCompletionEvents(served: ServedRequest, text: string, b: Extract<Behaviour, { kind: 'ok' }>): string[] {
  const base = { id: `chatcmpl-${served.n}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: served.body.model ?? 'test' };
  const event = (payload: unknown) => `data: ${JSON.stringify(payload)}\n\n`;
  const deltas = textDeltas(text);
  const events = [': keep-alive\n\n', event({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], usage: null })];
  for (const d of deltas) events.push(event({ ...base, choices: [{ index: 0, delta: { content: d }, finish_reason: null }], usage: null }));
  if (b.streamError !== undefined) return [...events, event({ error: b.streamError })];
  events.push(event({ ...base, choices: [{ index: 0, delta: {}, finish_reason: b.finishReason ?? 'stop' }], usage: null }));
  if ((served.body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) {
    events.push(event({ ...base, choices: [], usage: { prompt_tokens: Math.ceil(served.chars / 4), completion_tokens: Math.ceil(text.length / 4), total_tokens: Math.ceil((served.chars + text.length) / 4) } }));
  }
  events.push('data: [DONE]\n\n');
  return events;
}
