import { formatNumber } from '../../util/format';
import { seconds, type Bound } from './estimate';
import type { EndpointRate, SeveralModeEstimate } from './endpointEstimate';
import type { EndpointEstimate, PlanEstimate } from './planEstimate';
import { formatCost } from '../store/report';

/** Label and value rows of an estimate, shared by the CLI's text and the editor's Markdown. */
export function estimateRows(e: PlanEstimate): [string, string][] {
  const n = (x: number) => formatNumber(x);
  const cached = 'unknown' in e.cached ? `unknown (${e.cached.unknown})` : `${e.cached.chunks} of ${e.chunks} chunks (not sent again)`;
  const requests = e.toSend.requests === e.planned.requests ? n(e.toSend.requests) : `${n(e.toSend.requests)} to send (${n(e.planned.requests)} planned, less the cached chunks)`;
  const several = e.endpoints?.length ? e.endpoints : undefined;
  let cost = e.cost.dollars === undefined ? e.cost.text : `${e.cost.text} (input ${formatCost(e.cost.input)}, output ${formatCost(e.cost.output)})`;
  if (several) cost = costOverText(e, cost);
  const t = e.time;
  const time =
    e.toSend.requests === 0
      ? 'nothing to send'
      : several
        ? `about ${seconds(t.seconds)} (first result after ${seconds(t.firstResultSeconds)}; ${several.length} endpoints together ${round1(t.requestsPerMinute)} requests/min, each set by its own limit as below)`
        : `about ${seconds(t.seconds)} (first result after ${seconds(t.firstResultSeconds)}; ${seconds(t.secondsPerRequest)} per request, ${round1(t.requestsPerMinute)} requests/min, set by ${boundText(t.bound, e)})`;
  const perEndpoint = (several ?? []).map((p): [string, string] => [`Endpoint ${p.id}`, endpointText(p, e.toSend.requests > 0)]);
  return [
    ['Requests', requests],
    ['Input tokens', `${n(e.toSend.inputTokens)} (prompt and wrapping included)`],
    ['Output tokens', `about ${n(e.toSend.outputTokens)} (${e.output.source}${e.output.maxOutputTokens ? `; at most ${n(e.output.maxOutputTokens)} per request` : ''})`],
    ['Cost', cost],
    ['Cached', cached],
    ['Latency', several ? 'per endpoint, below' : e.latency.source],
    ['Time', time],
    ...perEndpoint,
  ];
}

/** One endpoint of several: its limits, its rate and what sets it, its share, its latency's source. */
function endpointText(p: EndpointEstimate, sending: boolean): string {
  const l = p.limits;
  const limits = `concurrency ${l.concurrency}, ${l.rpm ? `${l.rpm} RPM` : 'no RPM budget'}, ${l.tpm ? `${l.tpm} TPM` : 'no TPM budget'}`;
  const rate = sending ? `${seconds(p.time.secondsPerRequest)} per request, ${round1(p.time.requestsPerMinute)} requests/min set by ${endpointBound(p.time, l)}, about ${Math.round(p.time.share * 100)}% of the requests; ` : '';
  return `${limits}; ${rate}latency: ${p.latency.source}`;
}

function endpointBound(r: EndpointRate, l: EndpointEstimate['limits']): string {
  if (r.bound === 'rpm') return `its RPM budget (${l.rpm})`;
  if (r.bound === 'tpm') return `its TPM budget (${l.tpm})`;
  return `its concurrency (${l.concurrency})`;
}

/** The cost of a several-endpoint run: at the primary's prices, and the range over the priced endpoints. */
function costOverText(e: PlanEstimate, primaryText: string): string {
  const c = e.cost;
  if (!c.range) return 'n/a (no prices for these endpoints)';
  const parts = [c.dollars === undefined ? `n/a for the primary ${c.primary} (no prices)` : `${primaryText} if every request went to the primary ${c.primary}`];
  if (c.range.min !== c.range.max) parts.push(`from ${formatCost(c.range.min)} (all on ${c.range.minEndpoint}) to ${formatCost(c.range.max)} (all on ${c.range.maxEndpoint}) as the endpoints share the work`);
  else if (c.dollars === undefined) parts.push(`${formatCost(c.range.min)} if every request went to ${c.range.minEndpoint}`);
  const unpriced = c.unpriced?.filter((id) => id !== c.primary) ?? [];
  if (unpriced.length) parts.push(`no prices for ${unpriced.join(', ')}`);
  return parts.join('; ');
}

/** Rows comparing streaming (one chunk per request) with packing: [label, streamed, packed]. */
export function comparisonRows(e: PlanEstimate): [string, string, string][] {
  const { stream, packed } = e.comparison;
  const n = (x: number) => formatNumber(x);
  const row = (label: string, f: (m: SeveralModeEstimate) => string): [string, string, string] => [label, f(stream), f(packed)];
  return [
    row('Chunks per request', (m) => String(m.chunksPerBatch)),
    row('Requests', (m) => n(m.requests)),
    row('Prompt tokens repeated', (m) => `${n(m.repeatedPromptTokens)} (${n(m.promptTokensPerRequest)} × ${n(m.requests)})`),
    row('Input tokens', (m) => n(m.inputTokens)),
    row('First result', (m) => (m.requests ? seconds(m.firstResultSeconds) : '-')),
    row('Last result', (m) => (m.requests ? seconds(m.lastResultSeconds) : '-')),
    row('Set by', (m) => (!m.requests ? '-' : m.endpoints ? m.endpoints.map((p, i) => `${p.id}: ${endpointBound(p, e.endpoints![i].limits)}`).join(', ') : boundText(m.bound, e))),
  ];
}

/** The recommendation as one sentence, with the options that apply it (`endpointConcurrency`: each endpoint's own). */
export function recommendationText(e: PlanEstimate, flags: { chunksPerBatch: string; concurrency: string; endpointConcurrency: string }): string {
  const r = e.recommendation;
  const mode = r.mode === 'stream' ? 'stream one chunk per request' : `pack ${r.chunksPerBatch} chunks per request`;
  if (r.endpoints) {
    const per = r.endpoints.map((p) => `${p.id} ${p.concurrency}`).join(', ');
    return `${mode} (${flags.chunksPerBatch} ${r.chunksPerBatch}), concurrency per endpoint ${per} (${flags.endpointConcurrency}): ${r.why}; concurrency: ${r.concurrencyWhy}.`;
  }
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
  lines.push(`**Recommendation:** ${recommendationText(e, { chunksPerBatch: 'batchPrompt.chunksPerBatch', concurrency: 'batchPrompt.maxConcurrency', endpointConcurrency: 'maxConcurrency of each endpoint in batchPrompt.models' })}`, '');
  lines.push('### Assumptions', '', ...e.assumptions.map((a) => `- ${a}`), '');
  return lines.join('\n');
}
