/**
 * A fake Anthropic Messages API on 127.0.0.1 for tests. `POST /v1/messages` answers like the real API:
 * `{ id, type: "message", role, model, content: [{ type: "text", text }], stop_reason, usage }` on
 * success, `{ type: "error", error: { type, message }, request_id }` on failure. By default every chunk
 * of the request (the protocol's format, in the user message) is answered like `ModelServer` does.
 *
 * Structured route (#14): a request forcing a tool (`tools` + `tool_choice: { type: "tool", name }`) is
 * answered, as the real API does, with one `tool_use` block of that name whose `input` is the script's
 * `toolInput`, else `structuredAnswer` of the chunks, and `stop_reason: "tool_use"`; streamed, its input
 * comes as `input_json_delta`s of indented JSON (the real API's pieces are not `JSON.stringify`'s either).
 * With `refuseStructured` set, such a request gets that error instead.
 */
import * as http from 'http';
import { LocalServer, readJsonBody } from './localServer';
import { defaultValue, parseChunks, replyFor, structuredAnswer, type RequestChunk } from './modelServer';
import { textDeltas, writeStream, type StreamScript } from './streamWriter';

export interface AnthropicRequest {
  n: number;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: { model?: string; max_tokens?: number; system?: string; messages?: { role: string; content: string }[]; stream?: boolean; [k: string]: unknown };
  chunks: RequestChunk[];
}

export type AnthropicBehaviour =
  | { kind: 'ok'; reply?: string; stopReason?: string; headers?: Record<string, string>; blocks?: unknown[]; stream?: StreamScript; errorAfter?: { deltas: number; type: string; message: string }; /** The forced tool's input (structured route). */ toolInput?: unknown }
  | { kind: 'error'; status: number; type: string; message: string; headers?: Record<string, string>; details?: unknown }
  | { kind: 'raw'; status: number; body: string; headers?: Record<string, string> }
  | { kind: 'reset' };

export type AnthropicScript = (req: AnthropicRequest) => AnthropicBehaviour | undefined;

export class AnthropicServer extends LocalServer {
  readonly requests: AnthropicRequest[] = [];
  script: AnthropicScript = () => undefined;
  /** The value of each chunk in a structured answer. */
  structuredValue: (chunk: RequestChunk) => unknown = defaultValue;
  /** When set, a request forcing a tool gets this error (a gateway without tool use, a schema refused). */
  refuseStructured?: { status: number; type: string; message: string };

  reset(): void {
    this.script = () => undefined;
    this.requests.length = 0;
    this.structuredValue = defaultValue;
    this.refuseStructured = undefined;
  }

  /** Starts on a free port; returns the base URL (no `/v1`). */

  async start(): Promise<string> {
    return this.listen();
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body: AnthropicRequest['body'] = await readJsonBody(req);
    const content = (body.messages ?? []).map((m) => m.content).join('\n');
    const served: AnthropicRequest = { n: this.requests.length + 1, url: req.url ?? '', headers: req.headers, body, chunks: parseChunks(content) };
    this.requests.push(served);
    const requestId = `req_fake${String(served.n).padStart(6, '0')}`;
    const json = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId, ...headers });
      res.end(JSON.stringify(payload));
    };
    if (req.method !== 'POST' || served.url !== '/v1/messages') {
      json(404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' }, request_id: requestId });
      return;
    }
    // The real API checks these before anything else.
    if (!req.headers['x-api-key']) {
      json(401, { type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' }, request_id: requestId });
      return;
    }
    if (!req.headers['anthropic-version']) {
      json(400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' }, request_id: requestId });
      return;
    }
    if (typeof body.max_tokens !== 'number') {
      json(400, { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' }, request_id: requestId });
      return;
    }
    const choice = body.tool_choice as { type?: string; name?: string } | undefined;
    const tool = Array.isArray(body.tools) && choice?.type === 'tool' ? choice.name ?? '' : undefined;
    const b = this.script(served) ?? (tool !== undefined && this.refuseStructured ? { kind: 'error', ...this.refuseStructured } : { kind: 'ok' });
    if (b.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (b.kind === 'raw') {
      res.writeHead(b.status, { 'content-type': 'text/html', ...b.headers });
      res.end(b.body);
      return;
    }
    if (b.kind === 'error') {
      const error: Record<string, unknown> = { type: b.type, message: b.message };
      if (b.details !== undefined) error.details = b.details;
      json(b.status, { type: 'error', error, request_id: requestId }, b.headers);
      return;
    }
    const chars = (body.system ?? '').length + content.length;
    if (tool !== undefined && !b.blocks) {
      const input = b.toolInput !== undefined ? b.toolInput : (JSON.parse(structuredAnswer(served.chunks, this.structuredValue)) as unknown);
      if (body.stream === true) {
        await writeStream(req, res, 'text/event-stream; charset=utf-8', toolEvents(served, tool, input, Math.ceil(chars / 4), b), b.stream, { 'request-id': requestId, ...b.headers });
        return;
      }
      const block = { type: 'tool_use', id: `toolu_fake${served.n}`, name: tool, input };
      json(200, { id: `msg_fake${served.n}`, type: 'message', role: 'assistant', model: body.model ?? 'claude-test', content: [block], stop_reason: b.stopReason ?? 'tool_use', stop_sequence: null, usage: { input_tokens: Math.ceil(chars / 4), output_tokens: Math.ceil(JSON.stringify(input).length / 4) } }, b.headers);
      return;
    }
    const text = b.reply ?? replyFor(served.chunks);
    if (body.stream === true) {
      await writeStream(req, res, 'text/event-stream; charset=utf-8', messageEvents(served, text, Math.ceil(chars / 4), b), b.stream, { 'request-id': requestId, ...b.headers });
      return;
    }
    json(
      200,
      {
        id: `msg_fake${served.n}`,
        type: 'message',
        role: 'assistant',
        model: body.model ?? 'claude-test',
        content: b.blocks ?? [{ type: 'text', text }],
        stop_reason: b.stopReason ?? 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: Math.ceil(chars / 4), output_tokens: Math.ceil(text.length / 4) },
      },
      b.headers,
    );
  }
}

/**
 * A streamed Messages reply as Anthropic sends it: `message_start` (input tokens), a text block's
 * `content_block_start`, a `ping`, `content_block_delta`s of `text_delta`s, `content_block_stop`,
 * `message_delta` (stop reason, output tokens) and `message_stop`, each as `event:` + `data:`. With
 * `errorAfter`, an `error` event follows that many deltas and the stream ends.
 */
function messageEvents(served: AnthropicRequest, text: string, inputTokens: number, b: Extract<AnthropicBehaviour, { kind: 'ok' }>): string[] {
  const event = (type: string, payload: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
  const events = [
    event('message_start', { message: { id: `msg_fake${served.n}`, type: 'message', role: 'assistant', content: [], model: served.body.model ?? 'claude-test', stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1 } } }),
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    event('ping', {}),
  ];
  const deltas = textDeltas(text);
  for (const [i, d] of deltas.entries()) {
    if (b.errorAfter && i === b.errorAfter.deltas) return [...events, event('error', { error: { type: b.errorAfter.type, message: b.errorAfter.message } })];
    events.push(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: d } }));
  }
  events.push(
    event('content_block_stop', { index: 0 }),
    event('message_delta', { delta: { stop_reason: b.stopReason ?? 'end_turn', stop_sequence: null }, usage: { output_tokens: Math.ceil(text.length / 4) } }),
    event('message_stop', {}),
  );
  return events;
}

/** A streamed forced tool call: a `tool_use` block whose input arrives as `input_json_delta`s (an empty one first, as the API sends). */
function toolEvents(served: AnthropicRequest, name: string, input: unknown, inputTokens: number, b: Extract<AnthropicBehaviour, { kind: 'ok' }>): string[] {
  const event = (type: string, payload: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
  const json = JSON.stringify(input, null, 1);
  const events = [
    event('message_start', { message: { id: `msg_fake${served.n}`, type: 'message', role: 'assistant', content: [], model: served.body.model ?? 'claude-test', stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1 } } }),
    event('content_block_start', { index: 0, content_block: { type: 'tool_use', id: `toolu_fake${served.n}`, name, input: {} } }),
    event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '' } }),
    event('ping', {}),
  ];
  const deltas = textDeltas(json, 7);
  for (const [i, d] of deltas.entries()) {
    if (b.errorAfter && i === b.errorAfter.deltas) return [...events, event('error', { error: { type: b.errorAfter.type, message: b.errorAfter.message } })];
    events.push(event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: d } }));
  }
  events.push(
    event('content_block_stop', { index: 0 }),
    event('message_delta', { delta: { stop_reason: b.stopReason ?? 'tool_use', stop_sequence: null }, usage: { output_tokens: Math.ceil(json.length / 4) } }),
    event('message_stop', {}),
  );
  return events;
}
