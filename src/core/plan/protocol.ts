import type { ChatMessage } from '../execute/model';
import type { Chunk, ChunkRef } from './types';

/**
 * The wire format of one batch: the prompt, then every chunk as `<chunk id path lines>` in one user
 * message; the model answers each as `<result id="ID">…</result>`. Part of the cache key of results,
 * so any change to the texts below must bump it.
 */
export const PROTOCOL_VERSION = 1;

/** How the model is told to answer. Kept short: it is repeated in every request. */
export function instructions(chunkCount: number): string {
  return [
    `You will receive ${chunkCount === 1 ? 'one chunk' : `${chunkCount} chunks`} of files, each inside <chunk id="…" path="…" lines="…"> … </chunk>.`,
    'Apply the instructions above to each chunk separately. The start of a chunk may repeat the end of the previous chunk of the same file, for context only.',
    'Answer every chunk, in the same order, as:',
    '<result id="ID">',
    'your output for that chunk',
    '</result>',
    'Write nothing outside the result blocks.',
  ].join('\n');
}

function escapeAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/\n/g, ' ');
}

/** The opening line of a chunk's wrapper, newline included. */
export function chunkOpener(chunk: ChunkRef): string {
  return `<chunk id="${escapeAttr(chunk.id)}" path="${escapeAttr(chunk.path)}" lines="${chunk.startLine}-${chunk.endLine}">\n`;
}

export const CHUNK_CLOSER = '\n</chunk>';

/** A chunk as it appears in the request. */
export function wrapChunk(chunk: Chunk): string {
  return chunkOpener(chunk) + chunk.text + CHUNK_CLOSER;
}

/**
 * The messages for one request. With a system message the prompt goes there; without one (VS Code's
 * Language Model API) it leads the user message.
 */
export function buildMessages(prompt: string, chunks: readonly Chunk[], supportsSystemMessage: boolean): ChatMessage[] {
  const system = `${prompt.trim()}\n\n${instructions(chunks.length)}`;
  const body = chunks.map(wrapChunk).join('\n\n');
  if (supportsSystemMessage) {
    return [
      { role: 'system', content: system },
      { role: 'user', content: body },
    ];
  }
  return [{ role: 'user', content: `${system}\n\n${body}` }];
}

export interface ParsedReply {
  /** Output per requested chunk id. */
  results: Map<string, string>;
  /** Requested ids with no complete result in the reply. */
  missing: string[];
  /** Ids in the reply that were not asked for (ignored, worth a log line). */
  unexpected: string[];
}

const OPENER = /<result\s+id\s*=\s*"([^"]*)"\s*>/g;
const CLOSER = '</result>';

/**
 * Splits a reply into one output per chunk id. The reply is cut at the `<result id="…">` openers, so an
 * output that itself contains `</result>` survives (the last closer of a section ends it); prose or a
 * code fence around the results is ignored. A section without a closer is complete only when another
 * opener follows it: the last one without a closer was cut off and counts as missing. In a one-chunk
 * request, a reply with no `<result>` tag at all is that chunk's output, unless it was cut off.
 */
export function parseReply(reply: string, requestedIds: readonly string[], options: { truncated?: boolean } = {}): ParsedReply {
  const requested = new Set(requestedIds);
  const results = new Map<string, string>();
  const unexpected: string[] = [];
  const openers = [...reply.matchAll(OPENER)];

  if (openers.length === 0) {
    if (requestedIds.length === 1 && !options.truncated && reply.trim() !== '') {
      results.set(requestedIds[0], reply);
    }
  }
  for (let i = 0; i < openers.length; i++) {
    const m = openers[i];
    const id = unescapeAttr(m[1]);
    const from = m.index + m[0].length;
    const to = i + 1 < openers.length ? openers[i + 1].index : reply.length;
    const section = reply.slice(from, to);
    const close = section.lastIndexOf(CLOSER);
    const isLast = i + 1 === openers.length;
    if (close < 0 && (isLast || options.truncated)) continue; // cut off: never a success
    let output = close < 0 ? section : section.slice(0, close);
    if (output.startsWith('\r\n')) output = output.slice(2);
    else if (output.startsWith('\n')) output = output.slice(1);
    if (close >= 0) {
      if (output.endsWith('\r\n')) output = output.slice(0, -2);
      else if (output.endsWith('\n')) output = output.slice(0, -1);
    }
    if (!requested.has(id)) {
      unexpected.push(id);
      continue;
    }
    if (!results.has(id)) results.set(id, output);
  }
  const missing = requestedIds.filter((id) => !results.has(id));
  return { results, missing, unexpected };
}

function unescapeAttr(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&amp;/g, '&');
}
