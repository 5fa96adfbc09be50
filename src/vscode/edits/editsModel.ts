// The review of an edit run's proposals (#15), the parts that need no editor: a proposal cut into hunks
// (`diff`'s structuredPatch between the planned original and `proposed/<path>`), each one replace of
// whole lines of the original, with the label and description the Refactor Preview shows.
import { structuredPatch } from 'diff';
import type { ProposalEntry, SuspiciousPart } from '../../core/output/edits';

/** A place in a text as the editor counts it: 0-based line and character. */
export interface TextPosition {
  line: number;
  character: number;
}

/** One change of a proposal: whole lines of the original replaced by whole lines of the proposal. */
export interface ReviewHunk {
  /** Where the replaced lines start and end in the original (the end is the start of the next line, or the end of the text). */
  start: TextPosition;
  end: TextPosition;
  /** The proposal's lines that replace them (empty for a deletion). */
  newText: string;
  /** 1-based lines of the original replaced (`oldLines` 0: an insertion before `oldStart`). */
  oldStart: number;
  oldLines: number;
  newLines: number;
}

const BOM = '\uFEFF';

/** Whole lines, each with its line break ('\n' or '\r\n'), the last one without when the text does not end with one. */
function linesOf(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  return lines.length === 1 && lines[0] === '' ? [] : lines;
}

/**
 * The changes from `original` to `proposed`, one per hunk of `diff`'s structuredPatch without context,
 * as replaces of whole lines: applying every one of them to `original` gives `proposed` exactly. A BOM
 * at the start of either text is left out (an editor does not show it; the engine keeps the original's).
 */
export function hunksOf(original: string, proposed: string): ReviewHunk[] {
  const a = original.startsWith(BOM) ? original.slice(1) : original;
  const b = proposed.startsWith(BOM) ? proposed.slice(1) : proposed;
  const oldLines = linesOf(a);
  const newLines = linesOf(b);
  const hunks: ReviewHunk[] = [];
  let delta = 0;
  for (const h of structuredPatch('a', 'b', a, b, undefined, undefined, { context: 0 }).hunks) {
    const newIndex = h.newLines === 0 ? h.newStart : h.newStart - 1;
    // A pure insertion is placed from the proposal's side: where its lines start, less the lines the hunks before it added.
    const oldIndex = h.oldLines === 0 ? newIndex - delta : h.oldStart - 1;
    hunks.push({
      start: positionOf(oldLines, oldIndex),
      end: positionOf(oldLines, oldIndex + h.oldLines),
      newText: newLines.slice(newIndex, newIndex + h.newLines).join(''),
      oldStart: oldIndex + 1,
      oldLines: h.oldLines,
      newLines: h.newLines,
    });
    delta += h.newLines - h.oldLines;
  }
  return hunks;
}

/** The start of line `index` of `lines`; past the last line, the end of the text. */
function positionOf(lines: readonly string[], index: number): TextPosition {
  if (index < lines.length) return { line: index, character: 0 };
  const last = lines[lines.length - 1];
  if (last === undefined || last.endsWith('\n')) return { line: lines.length, character: 0 };
  return { line: lines.length - 1, character: last.length };
}

/** `text` with every hunk applied (what accepting them all gives): the check of `hunksOf`. */
export function applyHunks(text: string, hunks: readonly ReviewHunk[], accept: (h: ReviewHunk, i: number) => boolean = () => true): string {
  const bom = text.startsWith(BOM) ? BOM : '';
  const lines = linesOf(bom ? text.slice(1) : text);
  const offsetOf = (p: TextPosition) => lines.slice(0, p.line).reduce((n, l) => n + l.length, 0) + p.character;
  const body = lines.join('');
  let out = '';
  let at = 0;
  hunks.forEach((h, i) => {
    if (!accept(h, i)) return;
    out += body.slice(at, offsetOf(h.start)) + h.newText;
    at = offsetOf(h.end);
  });
  return bom + out + body.slice(at);
}

/**
 * Why the editor cannot offer a file's hunks even though its sha256 is the planned one: a line break
 * the editor counts differently (a lone CR), or an open document whose text is not the file's (unsaved
 * changes; line endings the editor normalised do not count). Undefined when it can.
 */
export function reviewProblem(original: string, documentText: string | undefined): string | undefined {
  if (/\r(?!\n)/.test(original)) return 'it has line breaks the editor counts differently (a lone CR): apply it with "batch-prompt apply"';
  const body = original.startsWith(BOM) ? original.slice(1) : original;
  // Compared without its line endings: the editor may have normalised mixed ones (the lines are the same).
  if (documentText !== undefined && documentText.replace(/\r\n/g, '\n') !== body.replace(/\r\n/g, '\n')) return 'its open document differs from the file (unsaved changes): save or revert it, then review again';
  return undefined;
}

/** The Refactor Preview's groups: the run's changes, and apart from them the ones to look at twice. */
export function reviewLabel(runId: string, suspicious: boolean): string {
  return suspicious ? `Batch Prompt ${runId}: suspicious (a part shrank to under half its lines): check before accepting` : `Batch Prompt ${runId}: proposed edits`;
}

/** The suspicious parts of the file a hunk touches (lines of the original, 1-based, inclusive). */
export function suspiciousOf(entry: Pick<ProposalEntry, 'suspicious'>, hunk: Pick<ReviewHunk, 'oldStart' | 'oldLines'>): SuspiciousPart[] {
  const from = hunk.oldStart;
  const to = hunk.oldStart + Math.max(hunk.oldLines, 1) - 1;
  return (entry.suspicious ?? []).filter((s) => s.startLine <= to && s.endLine >= from);
}

/** The description of a hunk in the Refactor Preview: where it is, and the suspicion that concerns it. */
export function hunkDescription(path: string, hunk: ReviewHunk, suspicious: readonly SuspiciousPart[]): string {
  const where = hunk.oldLines === 0 ? `${path}: ${hunk.newLines} line${hunk.newLines === 1 ? '' : 's'} added before line ${hunk.oldStart}` : `${path}: lines ${hunk.oldStart}-${hunk.oldStart + hunk.oldLines - 1} (${hunk.oldLines} → ${hunk.newLines} line${hunk.newLines === 1 ? '' : 's'})`;
  return suspicious.length ? `${where}; suspicious: ${suspicious.map((s) => `lines ${s.startLine}-${s.endLine} ${s.note}`).join('; ')}` : where;
}
