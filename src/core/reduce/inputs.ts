/**
 * The level-0 inputs of a reduce (#16): a finished run folder's successful results, one per file in
 * file order, each headed by its path and the line ranges its results answer (text outputs as
 * written; json values as JSON; findings one compact line each), and everything that is not among them
 * (a chunk that failed, was canceled or never ran) with why. Results larger than one request are cut
 * with the chunker into pieces `F<n>.<k>`.
 */
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { chunkFileOf, findingsOf, readEntries, type PlacedEntry } from '../output/artifacts';
import { isStructured, validatorOf, type OutputSpec } from '../output/spec';
import type { Counted } from '../plan/offThreadCounts';
import type { Tokenizer } from '../plan/tokenizer';
import type { RunMeta, RunRecord } from '../store/runStore';
import { joinOutputs } from '../../util/text';
import { inputCost, type WrappedInput } from './framing';
import type { InputRecord, NotIncluded } from './journal';
import { cutText } from './tree';

/** An input of a level as sent: its wrapper's fields, text and cost. */
export interface ReduceItem extends WrappedInput {
  tokens: number;
  /** Tokens inside a group's text (text, wrapper, separator). */
  cost: number;
}

export interface RunResults {
  inputs: (ReduceItem & InputRecord)[];
  notIncluded: NotIncluded[];
  /** Files with at least one successful chunk. */
  files: number;
}

/** `1-40, 41-80` → `1-80`: the line ranges of consecutive chunks, merged where they touch or overlap. */
export function lineRanges(ranges: readonly { startLine: number; endLine: number }[]): string {
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.startLine <= last[1] + 1) last[1] = Math.max(last[1], r.endLine);
    else merged.push([r.startLine, r.endLine]);
  }
  return merged.map(([a, b]) => `${a}-${b}`).join(', ');
}

/** A file's findings, one compact line each (`L12-14 warning [rule]: message`). */
function renderFindings(entries: readonly PlacedEntry[]): string {
  const findings = findingsOf(entries);
  if (!findings.length) return 'No findings.';
  return findings
    .map((f) => `L${f.line}${f.endLine !== undefined && f.endLine !== f.line ? `-${f.endLine}` : ''} ${f.severity}${f.rule ? ` [${f.rule}]` : ''}: ${f.message.replace(/\s*\r?\n\s*/g, ' ')}${f.suggestion ? ` (suggestion: ${f.suggestion.replace(/\s*\r?\n\s*/g, ' ')})` : ''}`)
    .join('\n');
}

/** A file's json values: one JSON line each, with its lines when the file has several. */
function renderValues(entries: readonly PlacedEntry[]): string {
  if (entries.length === 1) return JSON.stringify(entries[0].value);
  return entries.map((e) => `lines ${e.startLine}-${e.endLine}: ${JSON.stringify(e.value)}`).join('\n');
}

/**
 * Reads the results of run folder `dir` (`run.json` already checked) as reduce inputs, each costing
 * at most `room` tokens inside a group (larger ones are cut). Chunk outputs are read from `chunks/`;
 * a structured one that cannot be read back is not included, with that reason.
 */
export async function readRunResults(dir: string, meta: RunMeta, records: readonly RunRecord[], counted: Counted, room: number): Promise<RunResults> {
  const latest = new Map<string, RunRecord>();
  for (const r of records) latest.set(r.chunkId, r);
  const spec: OutputSpec | undefined = meta.output;
  const validator = spec && isStructured(spec) ? validatorOf(spec) : undefined;
  const out: RunResults = { inputs: [], notIncluded: [], files: 0 };
  const bodies: { id: string; path: string; lines: string; body: string }[] = [];
  for (const [fi, f] of meta.files.entries()) {
    const ok: { startLine: number; endLine: number; text: string; chunkId: string }[] = [];
    for (const c of f.chunks) {
      const r = latest.get(c.id);
      const where = { path: f.path, lines: `${c.startLine}-${c.endLine}` };
      if (r?.status !== 'succeeded') {
        out.notIncluded.push({ ...where, reason: r ? `${r.status}${r.error ? ` (${r.error.kind}: ${oneLine(r.error.message)})` : ''}` : 'not run' });
        continue;
      }
      const text = await fs.readFile(path.join(dir, ...chunkFileOf(c.id).split('/')), 'utf8').catch(() => undefined);
      if (text === undefined) {
        out.notIncluded.push({ ...where, reason: `recorded succeeded, but ${chunkFileOf(c.id)} is missing` });
        continue;
      }
      ok.push({ startLine: c.startLine, endLine: c.endLine, text, chunkId: c.id });
    }
    if (!ok.length) continue;
    let body: string;
    let used = ok;
    if (spec && isStructured(spec)) {
      const entries: PlacedEntry[] = [];
      used = [];
      for (const c of ok) {
        try {
          entries.push(...readEntries(spec, { path: f.path, chunkId: c.chunkId, text: c.text }, validator));
          used.push(c);
        } catch (e) {
          out.notIncluded.push({ path: f.path, lines: `${c.startLine}-${c.endLine}`, reason: `its recorded output cannot be read (${oneLine(e instanceof Error ? e.message : String(e))})` });
        }
      }
      if (!used.length) continue;
      body = spec.kind === 'findings' ? renderFindings(entries) : renderValues(entries);
    } else {
      body = joinOutputs(ok.map((c) => c.text));
    }
    out.files++;
    bodies.push({ id: `F${fi + 1}`, path: f.path, lines: lineRanges(used), body });
  }
  // Every count in one go (off the editor's thread, a few round trips to the pool, not a few per file).
  const sized = await counted((t) => bodies.map((b) => sizedInputs(b, t, room)));
  for (const pieces of sized) out.inputs.push(...pieces.map((p) => ({ ...p, hash: hashOf(p.text) })));
  return out;
}

/**
 * A file's results as inputs costing at most `room` tokens each: the whole body, or pieces of it cut by
 * the chunker, each with its wrapper. A pure function of the counts (see `countedOffThread`).
 */
function sizedInputs(b: { id: string; path: string; lines: string; body: string }, tokenizer: Tokenizer, room: number): (ReduceItem & Omit<InputRecord, 'hash'>)[] {
  const whole = { id: b.id, path: b.path, lines: b.lines };
  const tokens = tokenizer.count(b.body);
  const cost = inputCost({ ...whole, tokens }, tokenizer);
  if (cost <= room) return [{ ...whole, text: b.body, tokens, cost }];
  // Too large for one request: pieces that each fit, with their wrapper.
  const wrapper = inputCost({ ...whole, part: '999 of 999', tokens: 0 }, tokenizer);
  const pieces = cutText(b.body, room - wrapper, tokenizer);
  return pieces.map((text, k) => {
    const piece = { id: `${b.id}.${k + 1}`, path: b.path, lines: b.lines, part: `${k + 1} of ${pieces.length}` };
    const t = tokenizer.count(text);
    return { ...piece, text, tokens: t, cost: inputCost({ ...piece, tokens: t }, tokenizer) };
  });
}

export function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function oneLine(s: string): string {
  return s.replace(/\s*\r?\n\s*/g, ' ').trim();
}
