/**
 * The words of a reduce request (#16): the reduce prompt, then what to do with the inputs, then one
 * `<inputs id="R<level>.<group>">` block holding each input as `<input id path lines>` (a file's results)
 * or `<input id kind="partial">` (a partial answer of the level below). The reply is read as the run
 * protocol's (core/plan/protocol: one `<result id>`, or the structured-mode object), so the executor's
 * checks, repairs and retries apply unchanged. Part of the result cache key (`REDUCE_FRAMING_VERSION`).
 */
import type { RequestFraming } from '../execute/executor';
import type { ChatMessage } from '../execute/model';
import type { AnswerMode } from '../plan/protocol';
import type { Tokenizer } from '../plan/tokenizer';
import type { Chunk } from '../plan/types';
import { isStructured, itemSchemaOf, type OutputSpec } from '../output/spec';

/** Bumped whenever a text below changes: cached reduce answers of older words are never reused. */
export const REDUCE_FRAMING_VERSION = 1;

/** One input of a group as sent. */
export interface WrappedInput {
  id: string;
  /** A file's results: its path and line ranges; absent for a partial answer. */
  path?: string;
  lines?: string;
  /** `k of n` for a piece of an input cut to fit a request. */
  part?: string;
  text: string;
}

function attr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/\n/g, ' ');
}

export function inputOpener(i: Omit<WrappedInput, 'text'>): string {
  const where = i.path !== undefined ? ` path="${attr(i.path)}" lines="${attr(i.lines ?? '')}"` : ' kind="partial"';
  return `<input id="${attr(i.id)}"${where}${i.part ? ` part="${attr(i.part)}"` : ''}>\n`;
}

export const INPUT_CLOSER = '\n</input>';
const SEPARATOR = '\n\n';
/** Slack for token seams between pieces counted apart. */
const SEAM = 2;

/** Tokens an input costs inside a group's text: its text, its wrapper, the separator. */
export function inputCost(i: Omit<WrappedInput, 'text'> & { tokens: number }, tokenizer: Tokenizer): number {
  return i.tokens + tokenizer.count(inputOpener(i)) + tokenizer.count(INPUT_CLOSER) + SEAM + 1;
}

/** A group's text: its inputs, wrapped, in order. */
export function groupText(inputs: readonly WrappedInput[]): string {
  return inputs.map((i) => inputOpener(i) + i.text + INPUT_CLOSER).join(SEPARATOR);
}

/** The user message around a group's text. */
function groupBody(id: string, text: string): string {
  return `<inputs id="${attr(id)}">\n${text}\n</inputs>`;
}

/** Tokens of a group's wrapper (`<inputs id>` … `</inputs>`), with room for the longest id. */
export function groupWrapperTokens(tokenizer: Tokenizer): number {
  return tokenizer.count(groupBody('R9999.9999999', '')) + SEAM;
}

/** What the model is told to do with the inputs: combine them into one answer (`final`), or into one partial answer. */
export function reduceInstructions(final: boolean, output: OutputSpec | undefined, mode: AnswerMode): string {
  const lines = [
    'You will receive, inside one <inputs id="…"> block, results of a prompt run over files, each inside <input id="…" path="…" lines="…"> … </input>, or partial answers already combined from such results, each inside <input id="…" kind="partial"> … </input>. An input may be one part of a longer one (part="k of n").',
    final
      ? 'Combine all of them into ONE answer that follows the instructions above. Use every input; invent nothing that is not in them.'
      : 'Combine all of them into ONE partial answer that follows the instructions above. It will be combined later with other partial answers into the final answer: keep every detail the final answer may need, and say which files each point comes from. Use every input; invent nothing that is not in them.',
  ];
  if (!isStructured(output)) {
    lines.push('Answer as:', '<result id="ID">', 'your answer', '</result>', 'where ID is the id of the <inputs> block. Write nothing outside the result block.');
    return lines.join('\n');
  }
  if (mode === 'structured') lines.push('Answer with one JSON object {"results": [{"id": "<the id of the <inputs> block>", "value": <your answer>}]}.');
  else lines.push('Answer as:', '<result id="ID">', 'a JSON value: your answer', '</result>', 'where ID is the id of the <inputs> block. Write nothing outside the result block, and no code fences.');
  lines.push(`${final ? 'The answer' : 'The partial answer'} must be valid against this JSON Schema: ${JSON.stringify(itemSchemaOf(output!))}`);
  return lines.join('\n');
}

/** Tokens of a request's words around its group's text: prompt, instructions, schema copy, message framing, the `<inputs>` wrapper. */
function wordsTokens(prompt: string, tokenizer: Tokenizer, output: OutputSpec | undefined, final: boolean): number {
  const system = (mode: AnswerMode) => tokenizer.count(`${prompt.trim()}\n\n${reduceInstructions(final, output, mode)}`);
  const schemaCopy = isStructured(output) ? tokenizer.count(JSON.stringify(itemSchemaOf(output!))) + 80 : 0;
  return Math.max(system('tagged'), system('structured')) + schemaCopy + 2 * 8 + SEAM + groupWrapperTokens(tokenizer);
}

/** The chunk wrapper the executor counts for each chunk (`chunkCost`); a reduce request has its `<inputs>` wrapper instead. */
const CHUNK_WRAPPER_SAMPLE = '<chunk id="R1.1" path="reduce" lines="1-1">\n\n</chunk>';

/** The framing of a level's requests, for `ExecutorOptions.framing`: each request carries one group as its one chunk. */
export function reduceFraming(prompt: string, tokenizer: Tokenizer, output: OutputSpec | undefined, final: boolean): RequestFraming {
  const system = (mode: AnswerMode) => `${prompt.trim()}\n\n${reduceInstructions(final, output, mode)}`;
  const overhead = Math.max(0, wordsTokens(prompt, tokenizer, output, final) - tokenizer.count(CHUNK_WRAPPER_SAMPLE));
  return {
    overhead: () => overhead,
    messages(chunks: readonly Chunk[], supportsSystemMessage: boolean, mode: AnswerMode, repair?: { answer: string; error: string }): ChatMessage[] {
      const c = chunks[0];
      const body = groupBody(c.id, c.text);
      const messages: ChatMessage[] = supportsSystemMessage
        ? [
            { role: 'system', content: system(mode) },
            { role: 'user', content: body },
          ]
        : [{ role: 'user', content: `${system(mode)}\n\n${body}` }];
      if (!repair) return messages;
      const format = mode === 'structured' ? 'the same JSON object shape' : `one <result id="${attr(c.id)}"> block`;
      return [...messages, { role: 'assistant', content: repair.answer }, { role: 'user', content: `Your answer is not valid: ${repair.error}\nAnswer again, as ${format}, with a corrected value that matches the schema.` }];
    },
  };
}

/** Tokens of a reduce request besides its group's text, the larger of the final and partial forms. */
export function reduceOverhead(prompt: string, tokenizer: Tokenizer, output: OutputSpec | undefined): number {
  return Math.max(wordsTokens(prompt, tokenizer, output, true), wordsTokens(prompt, tokenizer, output, false));
}
