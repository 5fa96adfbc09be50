import { formatNumber } from '../../util/format';
import { SEVERITIES, type LocatedFinding, type Severity } from '../../core/output/kind';
import { hashText } from '../../core/plan/plan';
import { findingRecord, severityCounts } from '../../core/output/artifacts';
import { chunkIdProblem, relativePathProblem } from '../../core/store/pathGuard';

/**
 * The Problems panel's data of a findings run (#14), with no `vscode` import (unit-tested in plain
 * Node): `findings.jsonl` read as untrusted input, each finding checked against its file as it is now
 * (stale when the file changed since the run), and turned into what a `vscode.Diagnostic` is built
 * from. The feature (findings.ts) does the reading, the URIs and the collection.
 */

/** The run folder's findings, one `LocatedFinding` per line (written at the end of a findings run by core/output/artifacts). */
export { FINDINGS_JSONL as FINDINGS_FILE } from '../../core/output/artifacts';

/** Appended to the message of a finding whose file changed since the run (its line still exists). */
export const STALE_NOTE = ' (stale: the file changed since the run)';

/** `vscode.DiagnosticSeverity`'s values (Error 0, Warning 1, Information 2, Hint 3), so that this module needs no `vscode`. */
export const DIAGNOSTIC_SEVERITY: Readonly<Record<Severity, 0 | 1 | 2 | 3>> = Object.freeze({ error: 0, warning: 1, info: 2, hint: 3 });

/** Everything a `vscode.Diagnostic` is made of; positions 0-based, as VS Code counts them. */
export interface DiagnosticData {
  /** The run-relative path (the caller makes it a URI). */
  path: string;
  startLine: number;
  startCharacter: number;
  endLine: number;
  endCharacter: number;
  severity: 0 | 1 | 2 | 3;
  message: string;
  /** The finding's rule, shown as the diagnostic's code. */
  code?: string;
  stale: boolean;
}

export interface ParsedFindings {
  findings: LocatedFinding[];
  /** Lines left out, each with why (1-based line numbers of the file). */
  skipped: { line: number; reason: string }[];
}

/**
 * The findings of a `findings.jsonl` text. A run folder is untrusted input (a cloned repository can
 * hold anything): a line that is not JSON, or not a finding with a safe relative path, is left out and
 * listed in `skipped`; the others are kept. Blank lines are ignored.
 */
export function parseFindings(text: string): ParsedFindings {
  const findings: LocatedFinding[] = [];
  const skipped: ParsedFindings['skipped'] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      skipped.push({ line: i + 1, reason: 'not JSON' });
      return;
    }
    const problem = findingProblem(value);
    if (problem) skipped.push({ line: i + 1, reason: problem });
    else findings.push(findingRecord(value as LocatedFinding));
  });
  return { findings, skipped };
}

const isPositiveInt = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 1;
const isOptionalString = (x: unknown) => x === undefined || typeof x === 'string';

/** Why `v` is not a finding this module can place, or undefined when it is one. */
export function findingProblem(v: unknown): string | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'not an object';
  const f = v as Record<string, unknown>;
  const pathProblem = relativePathProblem(f.path);
  if (pathProblem) return `path ${pathProblem}`;
  if (!isPositiveInt(f.line)) return 'line is not a positive integer';
  if (f.endLine !== undefined && (!isPositiveInt(f.endLine) || f.endLine < f.line)) return 'endLine is not an integer at or after line';
  if (f.column !== undefined && !isPositiveInt(f.column)) return 'column is not a positive integer';
  if (!(SEVERITIES as readonly unknown[]).includes(f.severity)) return `severity is not one of ${SEVERITIES.join(', ')}`;
  if (typeof f.message !== 'string' || !f.message.trim()) return 'message is not a non-empty string';
  if (!isOptionalString(f.rule) || !isOptionalString(f.suggestion)) return 'rule or suggestion is not a string';
  if (chunkIdProblem(f.chunkId)) return 'chunkId is not a chunk id';
  return undefined;
}

/** The lines of a text as an editor counts them ("a\nb\n" has two; CRLF and CR end lines too). */
export function linesOf(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * One file's findings as diagnostics, checked against the file as it is now. `current` is its text now
 * (undefined: gone or unreadable, so nothing is shown); `recordedHash` is the sha256 run.json recorded.
 * The same hash: placed as found. Another: each finding whose line still exists is kept, marked stale
 * (`STALE_NOTE`), its range cut to the file's end; the others are dropped.
 */
export function placeFindings(findings: readonly LocatedFinding[], recordedHash: string | undefined, current: string | undefined): DiagnosticData[] {
  if (current === undefined) return [];
  const stale = recordedHash !== hashText(current);
  const lines = linesOf(current);
  const out: DiagnosticData[] = [];
  for (const f of findings) {
    if (f.line > lines.length) {
      // A finding past the end of an unchanged file is the model's error, kept on the last line; of a changed file, dropped.
      if (stale) continue;
    }
    out.push(toDiagnosticData(f, lines, stale));
  }
  return out;
}

/** A finding's diagnostic: lines `line..endLine` (cut to the file), from `column` (else the line's start) to the end line's end. */
export function toDiagnosticData(f: LocatedFinding, lines: readonly string[], stale: boolean): DiagnosticData {
  const last = Math.max(lines.length - 1, 0);
  const startLine = Math.min(f.line - 1, last);
  const endLine = Math.max(startLine, Math.min((f.endLine ?? f.line) - 1, last));
  const startCharacter = f.column !== undefined ? Math.min(f.column - 1, (lines[startLine] ?? '').length) : 0;
  let endCharacter = (lines[endLine] ?? '').length;
  // An empty range would show no squiggle: one character at least, where the line has one.
  if (endLine === startLine && endCharacter <= startCharacter) endCharacter = startCharacter + 1;
  return {
    path: f.path,
    startLine,
    startCharacter,
    endLine,
    endCharacter,
    severity: DIAGNOSTIC_SEVERITY[f.severity],
    message: messageOf(f) + (stale ? STALE_NOTE : ''),
    ...(f.rule ? { code: f.rule } : {}),
    stale,
  };
}

/** The finding's message with its suggestion. */
export function messageOf(f: Pick<LocatedFinding, 'message' | 'suggestion'>): string {
  const message = f.message.trim();
  const suggestion = f.suggestion?.trim();
  return suggestion ? `${message} Suggestion: ${suggestion}` : message;
}

const NOUNS: Record<Severity, [string, string]> = { error: ['error', 'errors'], warning: ['warning', 'warnings'], info: ['info', 'info'], hint: ['hint', 'hints'] };

/**
 * The end-of-run line of a findings run: "12 errors, 30 warnings in 41 files" (counts per severity,
 * most severe first, zero counts left out; the files that hold findings), or "No findings in 41 files"
 * (the files the run covered).
 */
export function countsText(findings: readonly LocatedFinding[], filesCovered: number): string {
  const files = (n: number) => `${formatNumber(n)} file${n === 1 ? '' : 's'}`;
  if (findings.length === 0) return `No findings in ${files(filesCovered)}`;
  const counts = severityCounts(findings);
  const parts = SEVERITIES.filter((s) => counts[s] > 0).map((s) => `${formatNumber(counts[s])} ${NOUNS[s][counts[s] === 1 ? 0 : 1]}`);
  return `${parts.join(', ')} in ${files(new Set(findings.map((f) => f.path)).size)}`;
}

/**
 * The collection after a run: the files the run covered get its diagnostics (none: cleared), every
 * other file keeps what it had. Keys are whatever names a file (URI strings in the editor).
 */
export function replaceCovered<T>(current: ReadonlyMap<string, readonly T[]>, covered: Iterable<string>, next: ReadonlyMap<string, readonly T[]>): Map<string, readonly T[]> {
  const out = new Map(current);
  for (const key of covered) out.delete(key);
  for (const [key, items] of next) if (items.length) out.set(key, items);
  return out;
}
