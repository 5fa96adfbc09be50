import type { RunMeta, RunRecord, RunSummary } from './runStore';
import { formatDuration } from '../../util/format';

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
 * The run's report (`report.md` in its folder): what ran, the outcome, per-file links to the outputs
 * with status and tokens, and every chunk that did not succeed with its reason. Links are relative to
 * the run folder.
 */
export function renderReport(meta: RunMeta, summary: RunSummary, records: readonly RunRecord[], prices: Prices = {}): string {
  const latest = new Map<string, RunRecord>();
  for (const r of records) latest.set(r.chunkId, r);
  const tokensByFile = new Map<string, { input: number; output: number }>();
  for (const r of latest.values()) {
    const t = tokensByFile.get(r.path) ?? { input: 0, output: 0 };
    t.input += r.inputTokens;
    t.output += r.outputTokens;
    tokensByFile.set(r.path, t);
  }
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
    `| Requests | ${summary.requests} |`,
    `| Tokens | ${summary.inputTokens} input, ${summary.outputTokens} output |`,
    `| Cost | ${formatCost(costOf(summary.inputTokens, summary.outputTokens, prices))} |`,
    `| Duration | ${formatDuration(summary.durationMs)} |`,
    '',
    ...endpointLines(summary),
    '## Files',
    '',
    '| File | Status | Input tokens | Output tokens |',
    '|---|---|---:|---:|',
  );
  for (const f of summary.files) {
    const t = tokensByFile.get(f.path) ?? { input: 0, output: 0 };
    lines.push(`| [${cell(f.path)}](${link(f.output)}) | ${f.status === 'complete' ? 'complete' : '**incomplete**'} | ${t.input} | ${t.output} |`);
  }
  const notOk = [...latest.values()].filter((r) => r.status !== 'succeeded');
  if (notOk.length) {
    lines.push('', '## Chunks that did not succeed', '', 'Retry them from the **Failed Chunks** view.', '', '| File | Lines | Status | Reason |', '|---|---|---|---|');
    for (const r of notOk) lines.push(`| ${cell(r.path)} | ${r.startLine}–${r.endLine} | ${r.status} | ${cell(r.error ? `${r.error.kind}: ${r.error.message}` : '')} |`);
  }
  return `${lines.join('\n')}\n`;
}
