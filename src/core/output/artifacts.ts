import { csvShape, toCsv } from './csv';
import { locateFindings, SEVERITIES, type FindingsValue, type LocatedFinding, type Severity } from './kind';
import { toSarif, type SarifOptions } from './sarif';
import { decodeEntries, isStructured, itemSchemaOf, validatorOf, type OutputSpec, type StructuredEntry } from './spec';
import { dedupeFindings } from './validate';
import { lineRange } from '../../util/format';

/**
 * What a structured run (#14) leaves beside its outputs, derived from each chunk's latest successful
 * recorded output (`chunks/ID.out`: `encodeEntries`), so that a resume, a retry, a collect or a merge
 * rewrites them whole from the folder's latest state. Pure: the run folder's reading and writing is in
 * core/store/runReport.ts.
 */

export const FINDINGS_JSONL = 'findings.jsonl';
export const FINDINGS_SARIF = 'findings.sarif';
export const RESULTS_JSONL = 'results.jsonl';
export const RESULTS_CSV = 'results.csv';
/** Every artifact name (a run folder's writers check them through the path guard). */
export const ARTIFACT_FILES = [FINDINGS_JSONL, FINDINGS_SARIF, RESULTS_JSONL, RESULTS_CSV] as const;

/** One succeeded chunk's recorded output, in run order (files in run.json order, chunks in file order). */
export interface ChunkText {
  path: string;
  chunkId: string;
  /** The chunk's recorded output (`chunks/ID.out`). */
  text: string;
}

/** One checked entry of a succeeded chunk, placed in its file. */
export interface PlacedEntry extends StructuredEntry {
  path: string;
  chunkId: string;
}

/** A recorded structured output that cannot be read back: names the chunk file and what is wrong. */
export class MalformedOutputError extends Error {
  override readonly name = 'MalformedOutputError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file} is not a recorded structured output Batch Prompt can use (${reason}); the run folder's findings and results were not written. Retry that chunk, or remove the file and resume the run.`);
  }
  static is(e: unknown): e is MalformedOutputError {
    return e instanceof MalformedOutputError;
  }
}

/** The file name a chunk's output is recorded under, as shown in messages. */
export function chunkFileOf(chunkId: string): string {
  return `chunks/${chunkId.replace(/[^\w.-]/g, '_')}.out`;
}

/**
 * The entries of one chunk's recorded output, each value checked against the run's item schema (a run
 * folder is untrusted: a hand-edited or cloned one can hold anything). Throws `MalformedOutputError`.
 */
export function readEntries(spec: OutputSpec, chunk: ChunkText, validator = validatorOf(spec)): PlacedEntry[] {
  const file = chunkFileOf(chunk.chunkId);
  let entries: StructuredEntry[];
  try {
    entries = decodeEntries(chunk.text);
  } catch (e) {
    throw new MalformedOutputError(file, e instanceof SyntaxError ? `not JSON: ${e.message}` : e instanceof Error ? e.message : String(e));
  }
  return entries.map((entry, i) => {
    const problem = validator?.check(entry.value);
    if (problem) throw new MalformedOutputError(file, `entry ${i}: ${problem}`);
    return { path: chunk.path, chunkId: chunk.chunkId, startLine: entry.startLine, endLine: entry.endLine, value: entry.value };
  });
}

/** Every entry of the chunks, in order (see `readEntries`). */
export function readAllEntries(spec: OutputSpec, chunks: Iterable<ChunkText>): PlacedEntry[] {
  const validator = validatorOf(spec);
  const out: PlacedEntry[] = [];
  for (const c of chunks) out.push(...readEntries(spec, c, validator));
  return out;
}

/** Findings of the entries, kept once where chunks overlap (`dedupeFindings`), in path then line order. */
export function findingsOf(entries: readonly PlacedEntry[]): LocatedFinding[] {
  const all = entries.flatMap((e) => locateFindings(e.value as FindingsValue, e.path, e.chunkId));
  return sortFindings(dedupeFindings(all));
}

/** Path (code-unit order, the same on every machine), then line, end line and column; otherwise stable. */
export function sortFindings<T extends LocatedFinding>(findings: readonly T[]): T[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => cmp(a.f.path, b.f.path) || a.f.line - b.f.line || (a.f.endLine ?? a.f.line) - (b.f.endLine ?? b.f.line) || (a.f.column ?? 0) - (b.f.column ?? 0) || a.i - b.i)
    .map((x) => x.f);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A finding as one `findings.jsonl` line's object: fixed key order, absent fields left out. */
export function findingRecord(f: LocatedFinding): LocatedFinding {
  const out: Record<string, unknown> = { path: f.path, line: f.line };
  if (f.endLine !== undefined) out.endLine = f.endLine;
  if (f.column !== undefined) out.column = f.column;
  out.severity = f.severity;
  out.message = f.message;
  if (f.rule !== undefined) out.rule = f.rule;
  if (f.suggestion !== undefined) out.suggestion = f.suggestion;
  out.chunkId = f.chunkId;
  return out as unknown as LocatedFinding;
}

export function toJsonLines(values: readonly unknown[]): string {
  return values.map((v) => `${JSON.stringify(v)}\n`).join('');
}

/** `results.jsonl`'s rows: `{path, startLine, endLine, chunkId, value}` per entry. */
export function resultRows(entries: readonly PlacedEntry[]): { path: string; startLine: number; endLine: number; chunkId: string; value: unknown }[] {
  return entries.map((e) => ({ path: e.path, startLine: e.startLine, endLine: e.endLine, chunkId: e.chunkId, value: e.value }));
}

/** Counts per severity (every severity present, most severe first). */
export function severityCounts(findings: readonly LocatedFinding[]): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** The severities a `--fail-on` threshold counts: it and the more severe ones. */
export function severitiesAtOrAbove(threshold: Severity): Severity[] {
  return SEVERITIES.slice(0, SEVERITIES.indexOf(threshold) + 1);
}

/** How many findings are at or above `threshold`. */
export function countAtOrAbove(findings: readonly Pick<LocatedFinding, 'severity'>[], threshold: Severity): number {
  const counted = new Set(severitiesAtOrAbove(threshold));
  return findings.filter((f) => counted.has(f.severity)).length;
}

/** The artifact files of a structured run, by name: what `writeRunArtifacts` writes. Text runs: none. */
export interface RunArtifacts {
  files: Map<string, string>;
  findings?: LocatedFinding[];
  entries: PlacedEntry[];
  /** An edit run's proposals (#15, `ProposalManifest` of output/edits.ts), for the report. */
  proposals?: { files: readonly { path: string; status: string; reason?: string; suspicious?: readonly unknown[] }[] };
}

/** Every artifact of a run of `spec` from its succeeded chunks (see the file names above). */
export function buildArtifacts(spec: OutputSpec | undefined, chunks: Iterable<ChunkText>, sarif: SarifOptions): RunArtifacts {
  const files = new Map<string, string>();
  if (!spec || !isStructured(spec)) return { files, entries: [] };
  const entries = readAllEntries(spec, chunks);
  if (spec.kind === 'findings') {
    const findings = findingsOf(entries);
    files.set(FINDINGS_JSONL, toJsonLines(findings.map(findingRecord)));
    files.set(FINDINGS_SARIF, `${JSON.stringify(toSarif(findings, sarif), null, 2)}\n`);
    return { files, findings, entries };
  }
  files.set(RESULTS_JSONL, toJsonLines(resultRows(entries)));
  const shape = csvShape(itemSchemaOf(spec)!);
  if (shape) files.set(RESULTS_CSV, toCsv(shape, entries));
  return { files, entries };
}

/** One chunk of a file for its per-file output: its entries, or why it has none. */
export type FileChunkPart = { chunkId: string; startLine: number; endLine: number } & ({ entries: PlacedEntry[] } | { missing: string });

/**
 * A structured file's output under outputs/ (readable, not the raw records): for `findings`, a Markdown
 * list of the file's findings in line order (overlap duplicates once); for `json`, the pretty JSON list
 * of its entries. A chunk without a result is marked in place (a `<<<batch-prompt: …>>>` line, or a
 * `{chunkId, lines, missing}` entry), never silently left out.
 */
export function renderFileOutput(spec: OutputSpec, path: string, parts: readonly FileChunkPart[]): string {
  if (spec.kind === 'json') {
    const list = parts.flatMap((p): Record<string, unknown>[] => ('entries' in p ? p.entries.map((e) => ({ startLine: e.startLine, endLine: e.endLine, value: e.value })) : [{ chunkId: p.chunkId, startLine: p.startLine, endLine: p.endLine, missing: p.missing }]));
    return `${JSON.stringify(list, null, 2)}\n`;
  }
  const findings = findingsOf(parts.flatMap((p) => ('entries' in p ? p.entries : [])));
  const lines = [`# Findings in ${path}`, ''];
  for (const p of parts) if ('missing' in p) lines.push(`<<<batch-prompt: chunk ${p.chunkId} (lines ${p.startLine}-${p.endLine}) ${p.missing}>>>`, '');
  if (!findings.length) lines.push('No findings.');
  for (const f of findings) {
    const where = lineRange(f.line, f.endLine ?? f.line);
    lines.push(`- **${f.severity}** ${where}${f.column !== undefined ? `:${f.column}` : ''}${f.rule ? ` \`${f.rule.replace(/`/g, "'")}\`` : ''}: ${oneLine(f.message)}`);
    if (f.suggestion) lines.push(`  - Suggestion: ${oneLine(f.suggestion)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One structured chunk's recorded output made readable (the live results document): its findings as a
 * list, or its value as pretty JSON. A recorded output that cannot be read is shown as it is.
 */
export function renderChunkOutput(spec: OutputSpec, chunk: { id: string; path: string; startLine: number; endLine: number }, output: string): string {
  let entries: PlacedEntry[];
  try {
    entries = readEntries(spec, { path: chunk.path, chunkId: chunk.id, text: output });
  } catch {
    return output;
  }
  const text = renderFileOutput(spec, chunk.path, [{ chunkId: chunk.id, startLine: chunk.startLine, endLine: chunk.endLine, entries }]);
  // The file's heading is the live document's own section heading.
  return text.replace(/^# Findings in .*\n\n/, '').trimEnd();
}

function oneLine(s: string): string {
  return s.replace(/\s*\r?\n\s*/g, ' ').trim();
}
