import { seconds, type Bound, type ModeEstimate } from './estimate';
import type { PlanEstimate } from './planEstimate';
import { formatCost } from './report';

/** Label and value rows of an estimate, shared by the CLI's text and the editor's Markdown. */
export function estimateRows(e: PlanEstimate): [string, string][] {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const cached = 'unknown' in e.cached ? `unknown (${e.cached.unknown})` : `${e.cached.chunks} of ${e.chunks} chunks (not sent again)`;
  const requests = e.toSend.requests === e.planned.requests ? n(e.toSend.requests) : `${n(e.toSend.requests)} to send (${n(e.planned.requests)} planned, less the cached chunks)`;
  const cost = e.cost.dollars === undefined ? e.cost.text : `${e.cost.text} (input ${formatCost(e.cost.input)}, output ${formatCost(e.cost.output)})`;
  const t = e.time;
  const time =
    e.toSend.requests === 0
      ? 'nothing to send'
      : `about ${seconds(t.seconds)} (first result after ${seconds(t.firstResultSeconds)}; ${seconds(t.secondsPerRequest)} per request, ${round1(t.requestsPerMinute)} requests/min, set by ${boundText(t.bound, e)})`;
  return [
    ['Requests', requests],
    ['Input tokens', `${n(e.toSend.inputTokens)} (prompt and wrapping included)`],
    ['Output tokens', `about ${n(e.toSend.outputTokens)} (${e.output.source}${e.output.maxOutputTokens ? `; at most ${n(e.output.maxOutputTokens)} per request` : ''})`],
    ['Cost', cost],
    ['Cached', cached],
    ['Latency', e.latency.source],
    ['Time', time],
  ];
}

/** Rows comparing streaming (one chunk per request) with packing: [label, streamed, packed]. */
export function comparisonRows(e: PlanEstimate): [string, string, string][] {
  const { stream, packed } = e.comparison;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const row = (label: string, f: (m: ModeEstimate) => string): [string, string, string] => [label, f(stream), f(packed)];
  return [
    row('Chunks per request', (m) => String(m.chunksPerBatch)),
    row('Requests', (m) => n(m.requests)),
    row('Prompt tokens repeated', (m) => `${n(m.repeatedPromptTokens)} (${n(m.promptTokensPerRequest)} × ${n(m.requests)})`),
    row('Input tokens', (m) => n(m.inputTokens)),
    row('First result', (m) => (m.requests ? seconds(m.firstResultSeconds) : '-')),
    row('Last result', (m) => (m.requests ? seconds(m.lastResultSeconds) : '-')),
    row('Set by', (m) => (m.requests ? boundText(m.bound, e) : '-')),
  ];
}

/** The recommendation as one sentence, with the options that apply it. */
export function recommendationText(e: PlanEstimate, flags: { chunksPerBatch: string; concurrency: string }): string {
  const r = e.recommendation;
  const mode = r.mode === 'stream' ? 'stream one chunk per request' : `pack ${r.chunksPerBatch} chunks per request`;
  return `${mode} (${flags.chunksPerBatch} ${r.chunksPerBatch}), concurrency ${r.concurrency} (${flags.concurrency} ${r.concurrency}): ${r.why}; concurrency: ${r.concurrencyWhy}.`;
}

function boundText(bound: Bound, e: PlanEstimate): string {
  if (bound === 'rpm') return `the RPM budget (${e.limits.rpm})`;
  if (bound === 'tpm') return `the TPM budget (${e.limits.tpm})`;
  return `concurrency ${e.limits.concurrency}`;
}

function round1(x: number): string {
  return String(Math.round(x * 10) / 10);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** The estimate as Markdown sections (for "Estimate Run…"). */
export function renderEstimateMarkdown(e: PlanEstimate): string {
  const lines = ['## Estimate', '', '| | |', '|---|---|', ...estimateRows(e).map(([k, v]) => `| ${k} | ${cell(v)} |`), ''];
  lines.push('## Batch or stream', '', '| | Streamed | Packed |', '|---|---:|---:|', ...comparisonRows(e).map(([k, s, p]) => `| ${k} | ${cell(s)} | ${cell(p)} |`), '');
  lines.push(`**Recommendation:** ${recommendationText(e, { chunksPerBatch: 'batchPrompt.chunksPerBatch', concurrency: 'batchPrompt.maxConcurrency' })}`, '');
  lines.push('### Assumptions', '', ...e.assumptions.map((a) => `- ${a}`), '');
  return lines.join('\n');
}
