import { parseReply, type AnswerMode } from '../plan/protocol';
import type { ItemValidator, LineRange } from './validate';

/** One chunk's answer in a structured reply: a checked value, or why it is not one with the text the model gave. */
export type ChunkAnswer = { ok: true; value: unknown } | { ok: false; error: string; raw: string };

export interface StructuredReply {
  /** Answer per requested chunk id that the reply holds (valid or not). */
  answers: Map<string, ChunkAnswer>;
  /** Requested ids with no complete answer (sent again alone, as in text runs). */
  missing: string[];
  /** Ids in the reply that were not asked for. */
  unexpected: string[];
}

/**
 * Reads a structured run's reply into one checked answer per chunk: `structured` mode expects one
 * object `{"results":[{"id","value"}]}`, `tagged` mode JSON inside each `<result>`. Either tolerates
 * a code fence or prose around the JSON. Each value is checked with `validator` against the item
 * schema and, for findings, the chunk's line range (`ranges`). A reply cut by the output limit whose
 * JSON does not parse leaves its chunks missing (they are sent again alone, as a cut text reply is),
 * never invalid.
 */
export function readStructuredReply(
  text: string,
  ids: readonly string[],
  mode: AnswerMode,
  validator: ItemValidator,
  ranges: ReadonlyMap<string, LineRange>,
  options: { truncated?: boolean } = {},
): StructuredReply {
  const answers = new Map<string, ChunkAnswer>();
  const unexpected: string[] = [];
  const check = (id: string, value: unknown, raw: string): void => {
    const error = validator.check(value, ranges.get(id));
    answers.set(id, error === undefined ? { ok: true, value } : { ok: false, error, raw });
  };
  if (mode === 'tagged') {
    const parsed = parseReply(text, ids, options);
    unexpected.push(...parsed.unexpected);
    for (const [id, output] of parsed.results) {
      const json = parseJsonLoosely(output);
      if (json.ok) check(id, json.value, output);
      else answers.set(id, { ok: false, error: `the answer is not JSON (${json.error})`, raw: output });
    }
  } else {
    const json = parseJsonLoosely(text);
    const results = json.ok ? (json.value as { results?: unknown } | null)?.results : undefined;
    if (!json.ok || !Array.isArray(results)) {
      if (!options.truncated) {
        const error = json.ok ? 'the reply is not an object with a "results" list' : `the reply is not JSON (${json.error})`;
        for (const id of ids) answers.set(id, { ok: false, error, raw: text });
      }
    } else {
      const requested = new Set(ids);
      for (const r of results) {
        const id = (r as { id?: unknown } | null)?.id;
        if (typeof id !== 'string' || !requested.has(id)) {
          unexpected.push(String(id));
          continue;
        }
        if (answers.has(id)) continue;
        const entry = r as { value?: unknown };
        if (!('value' in entry)) answers.set(id, { ok: false, error: '/: the entry has no "value"', raw: JSON.stringify(r) });
        else check(id, entry.value, JSON.stringify({ results: [{ id, value: entry.value }] }));
      }
    }
  }
  return { answers, missing: ids.filter((id) => !answers.has(id)), unexpected };
}

/**
 * Parses JSON that a model may have wrapped: as is, else inside a ``` fence, else from the first `{`
 * or `[` to the last `}` or `]` (prose around it).
 */
export function parseJsonLoosely(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const attempts: string[] = [text.trim()];
  const fence = /```[a-zA-Z0-9_-]*[ \t]*\r?\n([\s\S]*?)\r?\n?```/.exec(text);
  if (fence) attempts.push(fence[1].trim());
  const open = text.search(/[[{]/);
  const close = Math.max(text.lastIndexOf('}'), text.lastIndexOf(']'));
  if (open >= 0 && close > open) attempts.push(text.slice(open, close + 1));
  let first: string | undefined;
  for (const a of attempts) {
    try {
      return { ok: true, value: JSON.parse(a) };
    } catch (e) {
      first ??= e instanceof Error ? e.message : String(e);
    }
  }
  return { ok: false, error: first ?? 'empty' };
}
