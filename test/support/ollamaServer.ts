/**
 * A fake Ollama server on 127.0.0.1 for tests. `POST /api/chat` (stream false) answers like Ollama:
 * `{ model, created_at, message: { role, content }, done: true, done_reason, prompt_eval_count,
 * eval_count, … }`, and errors as `{ "error": "…" }`. Like the real server it silently cuts a prompt
 * longer than its context (`options.num_ctx`, else `defaultNumCtx`, never above `maxNumCtx`): it then
 * keeps half the context, reports that as `prompt_eval_count`, and answers 200 with a confused reply.
 * Its "tokenizer" is 4 characters per token.
 *
 * Structured output (#14): a request whose `format` is a schema object is answered, unless the script
 * gives a `reply`, with `structuredAnswer` of its chunks. `legacyFormat` makes it an Ollama before 0.5,
 * which refuses an object there as the real one does.
 */
import * as http from 'http';
import { LocalServer, readJsonBody } from './localServer';
import { defaultValue, parseChunks, replyFor, structuredAnswer, type RequestChunk } from './modelServer';
import { textDeltas, writeStream, type StreamScript } from './streamWriter';

export interface OllamaRequest {
  n: number;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: { model?: string; messages?: { role: string; content: string }[]; stream?: boolean; options?: { num_ctx?: number; num_predict?: number; [k: string]: unknown }; [k: string]: unknown };
  chunks: RequestChunk[];
  /** Prompt tokens by the fake's tokenizer (4 characters a token, all messages). */
  tokens: number;
}

export type OllamaBehaviour =
  | { kind: 'ok'; reply?: string; doneReason?: string; promptEvalCount?: number | null; stream?: StreamScript; errorAfter?: { lines: number; error: string } }
  | { kind: 'error'; status: number; error: string }
  | { kind: 'raw'; status: number; body: string }
  | { kind: 'reset' };

export type OllamaScript = (req: OllamaRequest) => OllamaBehaviour | undefined;

export const CONFUSED_REPLY = "It looks like you've shared part of a file, but I'm not sure what you'd like me to do with it.";

export class OllamaServer extends LocalServer {
  readonly requests: OllamaRequest[] = [];
  script: OllamaScript = () => undefined;
  /** Models the server has pulled; others get a 404. */
  models = new Set(['llama3.2']);
  /** Context used when a request sends no num_ctx. */
  defaultNumCtx = 2048;
  /** The model's own limit: a larger num_ctx is lowered to it. */
  maxNumCtx = Infinity;
  /** The value of each chunk in a structured answer. */
  structuredValue: (chunk: RequestChunk) => unknown = defaultValue;
  /** An Ollama before 0.5.0: `format` may only be the string "json". */
  legacyFormat = false;

  reset(): void {
    this.script = () => undefined;
    this.requests.length = 0;
    this.maxNumCtx = Infinity;
    this.structuredValue = defaultValue;
    this.legacyFormat = false;
  }

  async start(): Promise<string> {
    return this.listen();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body: OllamaRequest['body'] = await readJsonBody(req);
    const messages = body.messages ?? [];
    const content = messages.map((m) => m.content).join('\n');
    const served: OllamaRequest = {
      n: this.requests.length + 1,
      url: req.url ?? '',
      headers: req.headers,
      body,
      chunks: parseChunks(content),
      tokens: Math.ceil(messages.reduce((s, m) => s + m.content.length, 0) / 4),
    };
    this.requests.push(served);
    const json = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(payload));
    };
    if (req.method !== 'POST' || served.url !== '/api/chat') {
      // Go's default mux answers unknown paths in plain text.
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found');
      return;
    }
    const model = body.model ?? '';
    if (!this.models.has(model)) {
      json(404, { error: `model "${model}" not found, try pulling it first` });
      return;
    }
    const structured = typeof body.format === 'object' && body.format !== null;
    if (structured && this.legacyFormat) {
      json(400, { error: 'json: cannot unmarshal object into Go struct field ChatRequest.format of type string' });
      return;
    }
    const b = this.script(served) ?? { kind: 'ok' };
    if (b.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (b.kind === 'raw') {
      res.writeHead(b.status, { 'content-type': 'text/plain' });
      res.end(b.body);
      return;
    }
    if (b.kind === 'error') {
      json(b.status, { error: b.error });
      return;
    }
    const numCtx = Math.min(body.options?.num_ctx ?? this.defaultNumCtx, this.maxNumCtx);
    const cut = served.tokens > numCtx;
    const text = b.reply ?? (cut ? CONFUSED_REPLY : structured ? structuredAnswer(served.chunks, this.structuredValue) : replyFor(served.chunks));
    const promptEvalCount = b.promptEvalCount !== undefined ? b.promptEvalCount : cut ? Math.floor(numCtx / 2) : served.tokens;
    const reply: Record<string, unknown> = {
      model,
      created_at: new Date().toISOString(),
      message: { role: 'assistant', content: text },
      done: true,
      done_reason: b.doneReason ?? 'stop',
      total_duration: 4_648_158_584,
      load_duration: 4_071_084,
      prompt_eval_duration: 439_038_000,
      eval_count: Math.ceil(text.length / 4),
      eval_duration: 4_196_918_000,
    };
    if (promptEvalCount !== null) reply.prompt_eval_count = promptEvalCount;
    if (body.stream === true) {
      // NDJSON: a line per piece of text (`done: false`), then the final fields with an empty message.
      const lines = textDeltas(text).map((d) => `${JSON.stringify({ model, created_at: new Date().toISOString(), message: { role: 'assistant', content: d }, done: false })}\n`);
      if (b.errorAfter) lines.splice(b.errorAfter.lines, Infinity, `${JSON.stringify({ error: b.errorAfter.error })}\n`);
      else lines.push(`${JSON.stringify({ ...reply, message: { role: 'assistant', content: '' } })}\n`);
      await writeStream(req, res, 'application/x-ndjson', lines, b.stream);
      return;
    }
    json(200, reply);
  }
}
