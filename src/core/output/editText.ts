/**
 * The checks and normalisation of an edit run's answers (#15), pure: a rewritten part as the model wrote
 * it becomes the text that replaces the editable part. A result that is exactly one fenced code block is
 * unwrapped; line endings, a BOM and the blank lines at the part's edges are the original's; a part that
 * shrinks to under half its lines, or to nothing, is flagged suspicious (kept, shown in the review).
 */

const BOM = '\uFEFF';

export type LineEnding = 'lf' | 'crlf' | 'mixed' | 'none';

/** The line endings of `text`: every "\n" preceded by "\r" (crlf), none (lf), both kinds (mixed), no line break (none). */
export function lineEndingOf(text: string): LineEnding {
  let lf = 0;
  let crlf = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (i > 0 && text.charCodeAt(i - 1) === 13) crlf++;
    else lf++;
  }
  if (lf === 0 && crlf === 0) return 'none';
  return lf === 0 ? 'crlf' : crlf === 0 ? 'lf' : 'mixed';
}

/** `text` with its line breaks written as `eol` (left as is for `mixed` and `none`). */
export function withLineEnding(text: string, eol: LineEnding): string {
  if (eol === 'lf') return text.replace(/\r\n/g, '\n');
  if (eol === 'crlf') return text.replace(/\r?\n/g, '\r\n');
  return text;
}

const FENCE_OPEN = /^[ \t]*(`{3,}|~{3,})[^\n`]*\r?\n/;

/**
 * The content of `result` when it is exactly one fenced code block (blank lines around it allowed), else
 * undefined. A fence inside the block (a line starting with the same fence) means it is not one block.
 */
export function unwrapFence(result: string): string | undefined {
  const trimmed = result.replace(/^(?:[ \t]*\r?\n)+/, '').replace(/(?:\r?\n[ \t]*)+$/, '');
  const open = FENCE_OPEN.exec(trimmed);
  if (!open) return undefined;
  const fence = open[1];
  const body = trimmed.slice(open[0].length);
  const lines = body.split('\n');
  const last = lines[lines.length - 1].replace(/\r$/, '').trim();
  if (!last.startsWith(fence) || last.replace(/[`~]/g, '') !== '') return undefined;
  const inner = lines.slice(0, -1);
  if (inner.some((l) => l.trimStart().startsWith(fence[0].repeat(3)))) return undefined;
  return inner.length ? `${inner.join('\n')}\n` : '';
}

/** Lines of `text` (a final line break starts no line; an empty text has none). */
export function lineCount(text: string): number {
  if (text === '') return 0;
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) if (i + 1 < text.length) n++;
  return n;
}

/** Leading and trailing runs of whitespace-only lines, with their line breaks (`head`, `tail`), and the rest. */
function edges(text: string): { head: string; body: string; tail: string } {
  const head = /^(?:[ \t]*\r?\n)*/.exec(text)![0];
  if (head.length === text.length) return { head: text, body: '', tail: '' };
  const rest = text.slice(head.length);
  // The tail: the last line break of the body's last line and the blank lines after it.
  const m = /(?:\r?\n(?:[ \t]*\r?\n)*[ \t]*)$/.exec(rest);
  const tail = m ? m[0] : '';
  return { head, body: rest.slice(0, rest.length - tail.length), tail };
}

/**
 * The rewritten part as it replaces `original`: the original's BOM (kept or left out), line endings
 * (the part's own; `fallback`, the file's, when the part has no line break), and blank lines before and after the text (a model rarely copies
 * those exactly, and the parts' cuts are there). An empty rewrite stays empty (the part's lines were
 * deleted).
 */
export function normalizePart(original: string, rewritten: string, fallback: LineEnding = 'lf'): string {
  const bom = original.startsWith(BOM);
  let text = rewritten.startsWith(BOM) ? rewritten.slice(1) : rewritten;
  const orig = bom ? original.slice(1) : original;
  if (text.trim() === '') {
    // Nothing but blank lines: an empty part, or the original when it held only blank lines.
    return orig.trim() === '' ? original : bom ? BOM : '';
  }
  const o = edges(orig);
  if (o.body === '') {
    // An original of blank lines only: the rewrite as is, ending with a line break when the original did.
    const endsLine = /\n$/.test(orig);
    text = endsLine ? text.replace(/\r?\n?$/, '\n') : text.replace(/\r?\n$/, '');
  } else {
    text = o.head + edges(text).body + o.tail;
  }
  // The part's own line endings; with no line break in it, the file's (`fallback`), else LF.
  const own = lineEndingOf(orig);
  const target = own !== 'none' ? own : fallback === 'none' ? 'lf' : fallback;
  if (target !== 'mixed') text = withLineEnding(text, target);
  return (bom ? BOM : '') + text;
}

/** A rewritten part that looks wrong: kept, but flagged in the review. */
export interface Suspicion {
  note: string;
}

/** Why a rewrite of `original` into `rewritten` is suspicious: empty, or under half the original's lines. */
export function suspicionOf(original: string, rewritten: string): Suspicion | undefined {
  const before = lineCount(original.replace(/^\uFEFF/, ''));
  const after = lineCount(rewritten.replace(/^\uFEFF/, ''));
  if (before > 0 && rewritten.replace(/^\uFEFF/, '').trim() === '' && original.replace(/^\uFEFF/, '').trim() !== '') {
    return { note: `the rewritten part is empty: its ${before} line${before === 1 ? ' was' : 's were'} deleted` };
  }
  if (after * 2 < before) return { note: `the part shrank from ${before} lines to ${after}` };
  return undefined;
}

/** What an edit chunk's answer becomes: the text that replaces its editable part, and a flag when suspicious. */
export interface CheckedEdit {
  output: string;
  flags?: string[];
  note?: string;
}

/**
 * The replacement of `original` (a chunk's editable part) from the model's `result`: a single fenced
 * block unwrapped (unless the original itself starts with a fence), normalised (`normalizePart`), and
 * flagged `suspicious` when it shrank to under half its lines or to nothing.
 */
export function checkEdit(original: string, result: string, fallback?: LineEnding): CheckedEdit {
  const origFenced = FENCE_OPEN.test(original.replace(/^\uFEFF/, '').replace(/^(?:[ \t]*\r?\n)+/, ''));
  const unwrapped = origFenced ? undefined : unwrapFence(result);
  const output = normalizePart(original, unwrapped ?? result, fallback);
  const s = suspicionOf(original, output);
  return s ? { output, flags: ['suspicious'], note: s.note } : { output };
}
