import type { ChatMessage, ResponseSchema } from '../execute/model';
import { batchAnswerSchema } from '../output/kind';
import { itemSchemaOf, isStructured, type OutputSpec } from '../output/spec';
import type { Tokenizer } from './tokenizer';
import type { Chunk, ChunkRef } from './types';

/**
 * The wire format of one batch: the prompt, then every chunk as `<chunk id path lines>` in one user
 * message; the model answers each as `<result id="ID">…</result>`. Part of the cache key of results,
 * so any change to the texts below must bump it.
 */
export const PROTOCOL_VERSION = 1;

/**
 * How a structured run's answer travels: `structured`, one JSON object `{"results":[{"id","value"}]}`
 * through the provider's structured-output mode; `tagged`, JSON inside each `<result>` (the Language
 * Model API, a server that refused the mode). Text runs are always tagged.
 */
export type AnswerMode = 'tagged' | 'structured';

/** How the model is told to answer. Kept short: it is repeated in every request. */
export function instructions(chunkCount: number, output?: OutputSpec, mode: AnswerMode = 'tagged'): string {
  const chunks = chunkCount === 1 ? 'one chunk' : `${chunkCount} chunks`;
  const lines = [`You will receive ${chunks} of files, each inside <chunk id="…" path="…" lines="…"> … </chunk>.`];
  if (output?.kind === 'edit') {
    lines.push(
      'In each chunk, the part to rewrite is inside <edit lines="…"> … </edit>. The <context lines="…"> … </context> blocks around it are the neighbouring lines of the same file, for context only: never rewrite or repeat them.',
      'Apply the instructions above to each edit part separately. Answer every chunk, in the same order, as:',
      '<result id="ID">',
      'the whole edit part rewritten: every one of its lines, changed or not',
      '</result>',
      'Write the file\'s text exactly as it should be: no code fences, no line numbers, no remarks. Write nothing outside the result blocks.',
    );
    return lines.join('\n');
  }
  if (output?.kind === 'findings') {
    lines.push('Every line of a chunk starts with its line number in the file and a tab, as `cat -n` prints them; the numbers are not part of the file. Cite those numbers.');
  }
  lines.push('Apply the instructions above to each chunk separately. The start of a chunk may repeat the end of the previous chunk of the same file, for context only.');
  if (!isStructured(output)) {
    lines.push('Answer every chunk, in the same order, as:', '<result id="ID">', 'your output for that chunk', '</result>', 'Write nothing outside the result blocks.');
    return lines.join('\n');
  }
  if (mode === 'structured') {
    lines.push('Answer with one JSON object {"results": [{"id": "<chunk id>", "value": <your answer for that chunk>}]}, one entry per chunk, in the same order.');
  } else {
    lines.push('Answer every chunk, in the same order, as:', '<result id="ID">', 'a JSON value: your answer for that chunk', '</result>', 'Write nothing outside the result blocks, and no code fences.');
  }
  if (output!.kind === 'findings') {
    lines.push('Each answer is {"findings": [...]}: one entry per problem, with the line numbers shown; an empty list when there is none. Cite only lines of that chunk.');
  }
  lines.push(`Each answer must be valid against this JSON Schema: ${JSON.stringify(itemSchemaOf(output!))}`);
  return lines.join('\n');
}

function escapeAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/\n/g, ' ');
}

/** The opening line of a chunk's wrapper, newline included. */
export function chunkOpener(chunk: ChunkRef): string {
  return `<chunk id="${escapeAttr(chunk.id)}" path="${escapeAttr(chunk.path)}" lines="${chunk.startLine}-${chunk.endLine}">\n`;
}

export const CHUNK_CLOSER = '\n</chunk>';

/** A chunk as it appears in the request: numbered lines in the `findings` kind, context and edit part marked in `edit`. */
export function wrapChunk(chunk: Chunk, output?: OutputSpec): string {
  if (output?.kind === 'edit') return chunkOpener(chunk) + wrapEditParts(chunk) + CHUNK_CLOSER;
  const text = output?.kind === 'findings' ? numberLines(chunk.text, chunk.startLine) : chunk.text;
  return chunkOpener(chunk) + text + CHUNK_CLOSER;
}

/**
 * An edit chunk's body (#15): the leading context, the editable part and the trailing context, each in
 * its block with its lines; a context block only when there is context. A BOM is not sent (it is put
 * back when the answer is normalised).
 */
export function wrapEditParts(chunk: Pick<Chunk, 'text' | 'overlap' | 'trailing' | 'startLine'>): string {
  const text = chunk.text;
  const trailing = chunk.trailing ?? 0;
  const parts: [string, string][] = [
    ['context', text.slice(0, chunk.overlap)],
    ['edit', text.slice(chunk.overlap, text.length - trailing).replace(/^\uFEFF/, '')],
    ['context', text.slice(text.length - trailing)],
  ];
  let line = chunk.startLine;
  const out: string[] = [];
  for (const [tag, body] of parts) {
    const count = linesIn(body);
    if (tag === 'edit' || body !== '') {
      const range = count === 0 ? `${line}-${line}` : `${line}-${line + count - 1}`;
      out.push(`<${tag} lines="${range}">\n${body}${body === '' || body.endsWith('\n') ? '' : '\n'}</${tag}>`);
    }
    line += count;
  }
  return out.join('\n');
}

/** Lines a part holds (whole lines ending with "\n", and a last one without). */
function linesIn(body: string): number {
  let n = 0;
  for (let i = body.indexOf('\n'); i !== -1; i = body.indexOf('\n', i + 1)) n++;
  return body === '' || body.endsWith('\n') ? n : n + 1;
}

/** The line-number prefix of line `n`, as `cat -n` prints it: right-aligned in 6 columns, then a tab. */
export function linePrefix(n: number): string {
  return `${String(n).padStart(6, ' ')}\t`;
}

/** `text` with every line prefixed by its number, the first being `firstLine` (a final newline starts no line). */
export function numberLines(text: string, firstLine: number): string {
  let n = firstLine;
  let out = linePrefix(n);
  let from = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    out += text.slice(from, i + 1);
    from = i + 1;
    if (from < text.length) out += linePrefix(++n);
  }
  return out + text.slice(from);
}

/**
 * Tokens the line-number prefixes of `lineCount` lines from `firstLine` cost, by the run's tokenizer:
 * counted once per number width (a prefix is spaces, digits and a tab, and the count hardly depends on
 * which digits), so that planning a large file costs no tokenizer call per line.
 */
export function lineNumberTokens(firstLine: number, lineCount: number, tokenizer: Tokenizer): number {
  let total = 0;
  let n = firstLine;
  const last = firstLine + lineCount - 1;
  while (n <= last) {
    const width = String(n).length;
    const widthEnd = Math.min(last, 10 ** width - 1);
    total += (widthEnd - n + 1) * prefixTokens(width, tokenizer);
    n = widthEnd + 1;
  }
  return total;
}

const prefixCache = new WeakMap<Tokenizer, Map<number, number>>();

function prefixTokens(width: number, tokenizer: Tokenizer): number {
  let byWidth = prefixCache.get(tokenizer);
  if (!byWidth) prefixCache.set(tokenizer, (byWidth = new Map()));
  let v = byWidth.get(width);
  if (v === undefined) {
    // The most a prefix adds among a few numbers of this width, before the line starts a prefix may
    // meet (a word, indentation, a blank line): the tab can merge with what follows it.
    const samples = [10 ** (width - 1), 10 ** width - 1, Math.floor(10 ** (width - 1) * 4.7)].filter((x) => x >= 1);
    const after = ['x', ' x', '  x', '    x', '\tx', '\n', '}', '//'];
    v = Math.max(...samples.flatMap((x) => after.map((a) => tokenizer.count(`${linePrefix(x)}${a}`) - tokenizer.count(a))));
    byWidth.set(width, v);
  }
  return v;
}

/**
 * The messages for one request. With a system message the prompt goes there; without one (VS Code's
 * Language Model API) it leads the user message.
 */
export function buildMessages(prompt: string, chunks: readonly Chunk[], supportsSystemMessage: boolean, output?: OutputSpec, mode: AnswerMode = 'tagged'): ChatMessage[] {
  const system = `${prompt.trim()}\n\n${instructions(chunks.length, output, mode)}`;
  const body = chunks.map((c) => wrapChunk(c, output)).join('\n\n');
  if (supportsSystemMessage) {
    return [
      { role: 'system', content: system },
      { role: 'user', content: body },
    ];
  }
  return [{ role: 'user', content: `${system}\n\n${body}` }];
}

/**
 * The answer schema of one request of a structured run in structured mode (#14): the same for a live
 * request and a batch job's line. Strict is asked for; a provider whose strict mode cannot take the
 * schema sends it non-strict.
 */
export function structuredRequest(output: OutputSpec | undefined, chunks: readonly Pick<ChunkRef, 'id'>[]): { responseSchema?: ResponseSchema } {
  if (!output || !isStructured(output)) return {};
  return { responseSchema: { name: 'batch_answer', schema: batchAnswerSchema(itemSchemaOf(output)!, chunks.map((c) => c.id)), strict: true } };
}

/**
 * The messages of a repair (#14): the chunk's request again, the invalid answer as the model's turn, then
 * the validator's first error quoted, asking for that chunk's answer once more in the same format.
 */
export function buildRepairMessages(prompt: string, chunk: Chunk, supportsSystemMessage: boolean, output: OutputSpec, mode: AnswerMode, invalid: { answer: string; error: string }): ChatMessage[] {
  const format = mode === 'structured' ? 'the same JSON object shape' : `one <result id="${escapeAttr(chunk.id)}"> block`;
  return [
    ...buildMessages(prompt, [chunk], supportsSystemMessage, output, mode),
    { role: 'assistant', content: invalid.answer },
    { role: 'user', content: `Your answer for chunk ${chunk.id} is not valid: ${invalid.error}\nAnswer again for that chunk, as ${format}, with a corrected value that matches the schema.` },
  ];
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
 * With `closedOnly` (edit runs, #15) a result counts only when its block is closed: a rewrite must be whole.
 */
export function parseReply(reply: string, requestedIds: readonly string[], options: { truncated?: boolean; closedOnly?: boolean } = {}): ParsedReply {
  const requested = new Set(requestedIds);
  const results = new Map<string, string>();
  const unexpected: string[] = [];
  const openers = [...reply.matchAll(OPENER)];

  if (openers.length === 0 && !options.closedOnly) {
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
    if (close < 0 && (isLast || options.truncated || options.closedOnly)) continue; // cut off: never a success
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
