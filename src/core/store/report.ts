import { proposedNameOf } from '../output/names';
import type { RunMeta, RunRecord, RunSummary } from './runStore';
import { FINDINGS_JSONL, FINDINGS_SARIF, RESULTS_CSV, RESULTS_JSONL, severityCounts, type RunArtifacts } from '../output/artifacts';
import { SEVERITIES } from '../output/kind';
import { formatDuration } from '../../util/format';
import { describeNotIncluded, type ReduceShape } from '../reduce/answer';
import { passLines, type RunPass } from './passes';

export interface Prices {
  inputCostPerMTok?: number;
  outputCostPerMTok?: number;
}

/** Dollars for the tokens at the endpoint's prices; undefined when it has none. */
export function costOf(inputTokens: number, outputTokens: number, prices: Prices = {}): number | undefined {
  if (prices.inputCostPerMTok === undefined && prices.outputCostPerMTok === undefined) return undefined;
  return (inputTokens * (prices.inputCostPerMTok ?? 0) + outputTokens * (prices.outputCostPerMTok ?? 0)) / 1e6;
}

export function formatCost(dollars: number | undefined): string {
  if (dollars === undefined) return 'n/a (no prices for this endpoint)';
  return dollars < 0.01 ? `$${dollars.toFixed(4)}` : `$${dollars.toFixed(2)}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A Markdown link target for a run-folder-relative path (spaces and parentheses escaped). */
function link(rel: string): string {
  return encodeURI(rel).replace(/\(/g, '%28').replace(/\)/g, '%29');
}

/** The per-endpoint table of a several-endpoint run (empty for one endpoint). */
function endpointLines(summary: RunSummary): string[] {
  if (!summary.endpoints?.length) return [];
  const lines = ['## Endpoints', '', '| Endpoint | Requests | Failures | Input tokens | Output tokens | Mean latency | Status |', '|---|---:|---:|---:|---:|---:|---|'];
  for (const e of summary.endpoints) {
    const status = e.dropped ? `**dropped**: ${cell(`${e.dropped.kind}: ${e.dropped.message}`)}` : 'in rotation to the end';
    lines.push(`| ${cell(e.id)} | ${e.requests} | ${e.failures} | ${e.inputTokens} | ${e.outputTokens} | ${formatDuration(e.meanLatencyMs)} | ${status} |`);
  }
  lines.push('');
  return lines;
}

/** One line per endpoint of a several-endpoint run, for the CLI and the editor's log (empty for one). */
export function describeEndpoints(summary: Pick<RunSummary, 'endpoints'>): string[] {
  return (summary.endpoints ?? []).map(
    (e) =>
      `  ${e.id}: ${e.requests} requests, ${e.failures} failed, ${e.inputTokens} input / ${e.outputTokens} output tokens, mean latency ${formatDuration(e.meanLatencyMs)}${e.dropped ? `; dropped (${e.dropped.kind}: ${e.dropped.message})` : ''}`,
  );
}

/** Why an endpoint left a run, on one line: `auth: The API key was refused` (no final period). */
export function endpointReason(r: { kind: string; message: string }): string {
  return `${r.kind}: ${r.message.replace(/\s+/g, ' ').replace(/[.\s]+$/, '')}`;
}

/**
 * A sentence naming the endpoints dropped from a several-endpoint run and why, for the end-of-run
 * notification and the top of the report; undefined when none was.
 */
export function droppedEndpointsNote(summary: Pick<RunSummary, 'endpoints'>): string | undefined {
  const dropped = (summary.endpoints ?? []).filter((e) => e.dropped);
  if (!dropped.length) return undefined;
  const left = `${dropped.length === 1 ? 'Endpoint' : 'Endpoints'} ${dropped.map((e) => `${e.id} (${endpointReason(e.dropped!)})`).join('; ')} left the run`;
  if (dropped.length === summary.endpoints!.length) return `${left}.`;
  return `${left}; the others took ${dropped.length === 1 ? 'its' : 'their'} batches.`;
}

/**
 * The reduce's section (#16): a link to the combined answer, what is not included, and the tree's
 * shape (one row per level: groups, requests, tokens).
 */
function reduceLines(r: ReduceShape | undefined, prices: Prices): string[] {
  if (!r) return [];
  const head =
    r.status === 'succeeded' && r.file
      ? `**Combined answer: [${r.file}](${link(r.file)})**, from ${r.inputs} result${r.inputs === 1 ? '' : 's'} in ${r.levels.length} level${r.levels.length === 1 ? '' : 's'}.`
      : r.status === 'failed'
        ? `**No combined answer**: ${cell(r.message ?? 'the reduce failed')}.`
        : '**The reduce has not finished**: run `batch-prompt resume` on this folder (or the reduce again) to finish it; finished groups are not sent again.';
  const lines = ['## Combined answer', '', head, '', `| | |`, '|---|---|', `| Reduce prompt | ${cell(r.prompt.length > 200 ? `${r.prompt.slice(0, 200)}…` : r.prompt)} |`, `| Requests | ${r.requests} |`, `| Tokens | ${r.inputTokens} input, ${r.outputTokens} output |`, `| Cost | ${formatCost(costOf(r.inputTokens, r.outputTokens, prices))} |`, ''];
  lines.push('| Level | Groups | Succeeded | Failed | Requests | Input tokens | Output tokens |', '|---:|---:|---:|---:|---:|---:|---:|');
  for (const l of r.levels) lines.push(`| ${l.level}${l.final ? ' (final)' : ''} | ${l.groups} | ${l.succeeded} | ${l.failed} | ${l.requests} | ${l.inputTokens} | ${l.outputTokens} |`);
  lines.push('');
  if (r.notIncluded.length) {
    lines.push(`### Not included in the combined answer (${r.notIncluded.length})`, '', ...r.notIncluded.slice(0, REPORT_ROWS).map((n) => `- ${cell(describeNotIncluded(n))}`));
    if (r.notIncluded.length > REPORT_ROWS) lines.push(`- … and ${r.notIncluded.length - REPORT_ROWS} more (reduce.jsonl lists them all)`);
    lines.push('');
  }
  return lines;
}

/** A run folder's passes (`passes.jsonl`) and the lines of it left out, for the report's history. */
export interface RunHistory {
  passes: readonly RunPass[];
  problems: readonly string[];
}

/**
 * Requests, tokens and time of the whole run: the passes added up when the folder has its history,
 * else the summary's (the latest pass only: a folder from before passes were recorded).
 */
function runTotals(summary: RunSummary, passes: readonly RunPass[]): { requests: number; inputTokens: number; outputTokens: number; durationMs: number; passes: number } {
  if (!passes.length) return { requests: summary.requests, inputTokens: summary.inputTokens, outputTokens: summary.outputTokens, durationMs: summary.durationMs, passes: 1 };
  const sum = (k: 'requests' | 'inputTokens' | 'outputTokens' | 'durationMs') => passes.reduce((n, p) => n + p[k], 0);
  return { requests: sum('requests'), inputTokens: sum('inputTokens'), outputTokens: sum('outputTokens'), durationMs: sum('durationMs'), passes: passes.length };
}

/**
 * Requests whose reply served chunks of more than one file: each chunk's tokens are its share of the
 * request's usage, an estimate (a request for chunks of one file adds up to that file's true figure).
 */
function splitRequests(records: Iterable<RunRecord>): Set<string> {
  const files = new Map<string, Set<string>>();
  for (const r of records) {
    if (r.cached || r.recovered || r.inputTokens + r.outputTokens === 0) continue;
    const set = files.get(r.batchId) ?? new Set<string>();
    set.add(r.path);
    files.set(r.batchId, set);
  }
  return new Set([...files].filter(([, set]) => set.size > 1).map(([id]) => id));
}

/** Rows shown in the report's tables of findings and results (the files hold them all). */
export const REPORT_ROWS = 50;
/** Files listed under "Files with the most findings". */
export const TOP_FILES = 10;

/**
 * A structured run's sections: for `findings`, the counts by severity, the files with the most findings
 * and a table of the first ones; for `json`, the count of results and a table of the first ones.
 */
function structuredLines(meta: RunMeta, artifacts: RunArtifacts | undefined): string[] {
  const kind = meta.output?.kind;
  if (!artifacts || !kind || kind === 'text') return [];
  if (kind === 'edit') return editLines(artifacts);
  if (kind === 'findings') {
    const findings = artifacts.findings ?? [];
    const counts = severityCounts(findings);
    const files = new Set(findings.map((f) => f.path));
    const lines = ['## Findings', '', `${findings.length} finding${findings.length === 1 ? '' : 's'} in ${files.size} file${files.size === 1 ? '' : 's'}: ${SEVERITIES.map((s) => `${counts[s]} ${s}`).join(', ')}. All of them: [${FINDINGS_JSONL}](${FINDINGS_JSONL}), [${FINDINGS_SARIF}](${FINDINGS_SARIF}).`, ''];
    lines.push('| Severity | Count |', '|---|---:|', ...SEVERITIES.map((s) => `| ${s} | ${counts[s]} |`), '');
    if (!findings.length) return lines;
    const byFile = new Map<string, Record<string, number>>();
    for (const f of findings) {
      const c = byFile.get(f.path) ?? { total: 0 };
      c.total++;
      c[f.severity] = (c[f.severity] ?? 0) + 1;
      byFile.set(f.path, c);
    }
    const top = [...byFile.entries()].sort((a, b) => b[1].total - a[1].total || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, TOP_FILES);
    lines.push('### Files with the most findings', '', '| File | Findings | Errors | Warnings |', '|---|---:|---:|---:|');
    for (const [p, c] of top) lines.push(`| ${cell(p)} | ${c.total} | ${c.error ?? 0} | ${c.warning ?? 0} |`);
    lines.push('', `### ${findings.length > REPORT_ROWS ? `First ${REPORT_ROWS} findings` : 'Findings'}`, '', '| File | Lines | Severity | Rule | Message |', '|---|---|---|---|---|');
    for (const f of findings.slice(0, REPORT_ROWS)) {
      lines.push(`| ${cell(f.path)} | ${f.endLine !== undefined && f.endLine !== f.line ? `${f.line}–${f.endLine}` : f.line} | ${f.severity} | ${cell(f.rule ?? '')} | ${cell(f.message)} |`);
    }
    return [...lines, ''];
  }
  const entries = artifacts.entries;
  const csv = artifacts.files.has(RESULTS_CSV) ? `, [${RESULTS_CSV}](${RESULTS_CSV})` : '';
  const lines = ['## Results', '', `${entries.length} result${entries.length === 1 ? '' : 's'} in ${new Set(entries.map((e) => e.path)).size} file(s). All of them: [${RESULTS_JSONL}](${RESULTS_JSONL})${csv}.`, ''];
  if (!entries.length) return lines;
  lines.push(`### ${entries.length > REPORT_ROWS ? `First ${REPORT_ROWS} results` : 'Results'}`, '', '| File | Lines | Value |', '|---|---|---|');
  for (const e of entries.slice(0, REPORT_ROWS)) {
    const v = JSON.stringify(e.value) ?? '';
    lines.push(`| ${cell(e.path)} | ${e.startLine}–${e.endLine} | \`${cell(v.length > 200 ? `${v.slice(0, 200)}…` : v).replace(/`/g, "'")}\` |`);
  }
  return [...lines, ''];
}

/** An edit run's section (#15): counts by status, then every file with a proposal or without one and why. */
function editLines(artifacts: RunArtifacts): string[] {
  const files = artifacts.proposals?.files ?? [];
  const count = (s: string) => files.filter((f) => f.status === s).length;
  const lines = ['## Proposed edits', '', `${count('proposed')} file(s) with a proposal, ${count('unchanged')} unchanged, ${count('incomplete')} incomplete, ${count('skipped')} skipped. Nothing was written to the files: review them (Review Proposed Edits) or run \`batch-prompt apply\` on this folder. The whole diff: [edits.patch](edits.patch).`, ''];
  const listed = files.filter((f) => f.status !== 'unchanged');
  if (!listed.length) return lines;
  lines.push('| File | Status | Notes |', '|---|---|---|');
  for (const f of listed.slice(0, REPORT_ROWS)) {
    const link = f.status === 'proposed' ? `[${cell(f.path)}](proposed/${encodeURI(proposedNameOf(f.path))})` : cell(f.path);
    const notes = f.suspicious?.length ? `${f.suspicious.length} suspicious part(s)` : (f.reason ?? '');
    lines.push(`| ${link} | ${f.status} | ${cell(notes)} |`);
  }
  return [...lines, ''];
}

/**
 * The run's report (`report.md` in its folder): what ran, the outcome, per-file links to the outputs
 * with status and tokens, and every chunk that did not succeed with its reason. Links are relative to
 * the run folder.
 */
export function renderReport(meta: RunMeta, summary: RunSummary, records: readonly RunRecord[], prices: Prices = {}, artifacts?: RunArtifacts, reduce?: ReduceShape, history: RunHistory = { passes: [], problems: [] }): string {
  const latest = new Map<string, RunRecord>();
  for (const r of records) latest.set(r.chunkId, r);
  const tokensByFile = new Map<string, { input: number; output: number; estimated: boolean; cached: number; chunks: number }>();
  const split = splitRequests(latest.values());
  for (const r of latest.values()) {
    const t = tokensByFile.get(r.path) ?? { input: 0, output: 0, estimated: false, cached: 0, chunks: 0 };
    t.input += r.inputTokens;
    t.output += r.outputTokens;
    t.chunks++;
    if (r.cached) t.cached++;
    if (split.has(r.batchId)) t.estimated = true;
    tokensByFile.set(r.path, t);
  }
  const totals = runTotals(summary, history.passes);
  const cached = summary.cached ?? 0;
  const statusWord = { succeeded: '✅ all chunks succeeded', partial: '⚠️ some chunks failed', canceled: '⏹ canceled', failed: '❌ stopped by an error' }[summary.status];
  const lines: string[] = [
    `# Batch Prompt run ${meta.runId}`,
    '',
    `**${statusWord}** — ${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.canceled} canceled.`,
    '',
  ];
  const dropped = droppedEndpointsNote(summary);
  if (summary.fatal) lines.push(`> ${summary.fatal.message}`, '');
  else if (dropped) lines.push(`> ${dropped}`, '');
  lines.push(
    '| | |',
    '|---|---|',
    `| Prompt | ${cell(meta.prompt.length > 200 ? `${meta.prompt.slice(0, 200)}…` : meta.prompt)} |`,
    `| Model | ${cell(meta.model.id)}${meta.model.model && meta.model.model !== meta.model.id ? ` (${cell(meta.model.model)})` : ''} |`,
    `| Files | ${meta.files.length} |`,
    `| Answers from the cache | ${cached}${cached ? ` of ${summary.succeeded + summary.failed + summary.canceled} chunks (nothing sent for them: no requests, no tokens)` : ''} |`,
    `| Requests | ${totals.requests}${totals.requests === 0 && cached > 0 ? ' (every answer came from the cache)' : ''}${totals.passes > 1 ? ` over ${totals.passes} passes` : ''} |`,
    `| Tokens | ${totals.inputTokens} input, ${totals.outputTokens} output |`,
    `| Cost | ${formatCost(costOf(totals.inputTokens, totals.outputTokens, prices))} |`,
    `| Duration | ${totals.requests === 0 && cached > 0 ? '— (nothing was sent)' : formatDuration(totals.durationMs)}${totals.passes > 1 ? ' (the passes added up)' : ''} |`,
    '',
    ...passLines(history.passes, history.problems),
    ...endpointLines(summary),
    ...reduceLines(reduce, prices),
    ...structuredLines(meta, artifacts),
    '## Files',
    '',
    '| File | Status | Input tokens | Output tokens |',
    '|---|---|---:|---:|',
  );
  let estimated = false;
  for (const f of summary.files) {
    const t = tokensByFile.get(f.path) ?? { input: 0, output: 0, estimated: false, cached: 0, chunks: 0 };
    estimated ||= t.estimated;
    const status = f.status === 'complete' ? (t.chunks > 0 && t.cached === t.chunks ? 'complete (from the cache)' : 'complete') : '**incomplete**';
    const mark = t.estimated ? '≈ ' : '';
    lines.push(`| [${cell(f.path)}](${link(f.output)}) | ${status} | ${mark}${t.input} | ${mark}${t.output} |`);
  }
  if (estimated) lines.push('', "≈ estimated: these files shared a request with other files, and a request's tokens are reported for the whole request; its share of them is split among its files by their size. The other figures are measured.");
  const notOk = [...latest.values()].filter((r) => r.status !== 'succeeded');
  if (notOk.length) {
    lines.push('', '## Chunks that did not succeed', '', 'Retry them from the **Unfinished Chunks** view (Batch Prompt in the activity bar).', '', '| File | Lines | Status | Reason |', '|---|---|---|---|');
    for (const r of notOk) lines.push(`| ${cell(r.path)} | ${r.startLine}–${r.endLine} | ${r.status} | ${cell(r.error ? `${r.error.kind}: ${r.error.message}` : '')} |`);
  }
  return `${lines.join('\n')}\n`;
}
