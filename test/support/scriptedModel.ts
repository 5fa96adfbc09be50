/**
 * An in-process ChatModel for tests of the protocol and the executor: it records every request and
 * answers with what the test's `answer` function returns (a reply text, a full response, or an error to
 * throw). The chunks of a request are read back from its user message.
 */
import type { ChatModel, ChatRequest, ChatResponse } from '../../src/core/execute/model';

export interface SeenChunk {
  id: string;
  path: string;
  startLine: number;
  endLine: number;
  /** The chunk's body as sent (numbered lines in the findings kind). */
  body: string;
}

const CHUNK_RE = /<chunk id="([^"]*)" path="([^"]*)" lines="(\d+)-(\d+)">\n([\s\S]*?)\n<\/chunk>/g;

/** The chunks a request carries, read from its messages. */
export function chunksOf(request: ChatRequest): SeenChunk[] {
  const user = request.messages.filter((m) => m.role === 'user').map((m) => m.content)[0] ?? '';
  return [...user.matchAll(CHUNK_RE)].map((m) => ({ id: m[1], path: m[2], startLine: Number(m[3]), endLine: Number(m[4]), body: m[5] }));
}

export type Answer = string | Partial<ChatResponse> | Error;

export class ScriptedModel implements ChatModel {
  readonly id: string;
  readonly supportsSystemMessage = true;
  readonly structuredOutput: boolean;
  readonly requests: ChatRequest[] = [];

  constructor(
    private readonly answer: (request: ChatRequest, n: number, chunks: SeenChunk[]) => Answer,
    options: { structuredOutput?: boolean; id?: string } = {},
  ) {
    this.structuredOutput = options.structuredOutput ?? false;
    this.id = options.id ?? 'scripted';
  }

  /** Ids of every chunk sent, in order, with repeats. */
  sentIds(): string[] {
    return this.requests.flatMap((r) => chunksOf(r).map((c) => c.id));
  }

  async complete(request: ChatRequest): Promise<ChatResponse> {
    this.requests.push(request);
    const a = this.answer(request, this.requests.length, chunksOf(request));
    if (a instanceof Error) throw a;
    const response = typeof a === 'string' ? { text: a } : a;
    return { text: '', finishReason: 'stop', usage: { inputTokens: 100, outputTokens: 10 }, ...response };
  }
}

/** A tagged reply: one `<result>` per chunk with the given body. */
export function taggedReply(chunks: readonly SeenChunk[], body: (c: SeenChunk) => string): string {
  return chunks.map((c) => `<result id="${c.id}">\n${body(c)}\n</result>`).join('\n');
}

/** A structured-mode reply: `{"results":[{"id","value"}]}`. */
export function structuredReply(chunks: readonly SeenChunk[], value: (c: SeenChunk) => unknown): string {
  return JSON.stringify({ results: chunks.map((c) => ({ id: c.id, value: value(c) })) });
}
