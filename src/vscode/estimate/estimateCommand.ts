import * as vscode from 'vscode';
import { renderEstimateMarkdown } from '../../core/estimate/estimateRender';
import type { Plan } from '../../core/plan/plan';
import { estimatePlan } from '../../core/estimate/planEstimate';
import { estimatePlanReduce, reduceEstimateMarkdown } from '../../core/reduce/estimate';
import type { ResultCache } from '../../core/store/resultCache';
import { smallestWindow } from '../../core/session/run';
import { getTokenizer } from '../../core/plan/tokenizer';
import { ESTIMATE_SCHEME, EstimateDocuments } from './estimateDocuments';
import { askGlob, RunRoots } from '../run/fileSelection';
import type { ModelService } from '../run/models';
import { pickPrompt, promptOf, type RunArgs } from '../run/prompts';
import { capWarning } from '../../core/estimate/capWarning';
import { CAP_SETTING_NAMES, capOfSettings } from '../run/spendCap';
import { describeSkipped, hasFolder, matchingFiles, modelInfoOf, planFiles, pricesOf } from '../run/runPlanning';
import { countedInEditor } from '../run/planServices';
import type { RunRequest } from '../run/runService';
import { Commands } from '../base/ids';
import { registerCommand } from '../base/lifecycle';
import { readSettingsReporting } from '../base/settings';
import type { Settings } from '../base/settingsSchema';
import type { Services } from '../services';
import { formatNumber } from '../../util/format';

/**
 * The estimate feature: "Estimate Run…" (the plan and its estimate as a read-only document; nothing
 * is sent) and the provider of those documents.
 */
export function registerEstimate(context: vscode.ExtensionContext, { runs, models, cache, log }: Services): void {
  const documents = new EstimateDocuments();
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(ESTIMATE_SCHEME, documents),
    registerCommand(Commands.estimateRun, (args?: RunArgs) => {
      const settings = readSettingsReporting(log);
      const ctx: EstimateContext = { settings, models, globalState: context.globalState, runsRoot: (s, roots) => runs.runsRoot(s, roots, true), cache: cache.forSettings(settings), documents };
      return showEstimate(ctx, { glob: args?.glob, prompt: promptOf(args), modelId: args?.modelId });
    }),
  );
}

/** What an estimate needs from the run service. */
export interface EstimateContext {
  settings: Settings;
  models: ModelService;
  /** Where recent prompts are remembered. */
  globalState: vscode.Memento;
  /** The runs folder, for the latency of recent runs (undefined: none). */
  runsRoot(settings: Settings, roots: RunRoots): vscode.Uri | undefined;
  /** The result cache, when the settings use one. */
  cache?: ResultCache;
  /** Where the estimate opens, read-only (an untitled document without it). */
  documents?: EstimateDocuments;
}

/**
 * "Estimate Run…": the plan only, shown as a Markdown document: files, chunks, requests, tokens, the
 * estimate (output, cost, cached chunks, time, batch or stream), skipped files. Asks for what the request
 * leaves out as a run does; sends nothing.
 */
export async function showEstimate(ctx: EstimateContext, request: RunRequest): Promise<Plan | undefined> {
  const settings = ctx.settings;
  const roots = RunRoots.current();
  if (!hasFolder(roots)) return undefined;
  // The same glob box as a run (with its live count), and the same refusal when nothing matches:
  // an estimate of no files is not worth asking for a prompt and a model.
  const glob = request.glob ?? (request.uris ? undefined : await askGlob(settings.defaultInclude, 'Batch Prompt: estimate files', 'estimate'));
  if (!request.uris && !glob) return undefined;
  const uris = await matchingFiles(request.uris, glob!);
  if (!uris) return undefined;
  const prompt = request.prompt ?? (await pickPrompt(ctx.globalState));
  if (!prompt) return undefined;
  const choice = request.modelId ? await ctx.models.find(settings, request.modelId) : await ctx.models.pick(settings, prompt.model);
  // Configured endpoints (several: each with its own limits, latency and prices) are estimated as a run would use them.
  const parts = choice?.endpoint ? (choice.endpoints ?? [choice.endpoint]) : undefined;
  const fit = parts ? smallestWindow(parts) : { contextWindow: choice?.chat ? Math.floor(choice.chat.maxInputTokens * 0.9) : undefined, maxOutputTokens: undefined };
  const window = fit.contextWindow;
  const planned = await planFiles(uris, roots, settings, prompt.text, fit, prompt.output);
  if (!planned) return undefined;
  const { plan, read } = planned;
  const prices = choice ? pricesOf(choice) : {};
  const t = plan.totals;
  const estimate = await estimatePlan(plan, {
    prompt: prompt.text,
    tokenizer: getTokenizer(),
    pack: { chunksPerBatch: settings.chunksPerBatch, maxBatchTokens: settings.maxBatchTokens, contextWindow: window, maxOutputTokens: fit.maxOutputTokens },
    endpoints: parts,
    limits: { concurrency: settings.maxConcurrency, rpm: settings.requestsPerMinute || undefined, tpm: settings.tokensPerMinute || undefined },
    prices,
    runsRoot: ctx.runsRoot(settings, roots)?.fsPath,
    read: roots.reader(),
    model: choice && modelInfoOf(choice.endpoints ? { ...choice, id: choice.endpoints[0].id } : choice),
    cache: ctx.cache,
    cacheNote: !settings.useCache ? 'the cache is off (batchPrompt.useCache)' : !choice ? 'no model chosen' : undefined,
    // Counted in the planning pool: the host's thread never loads the encoding for an estimate (#17).
    counted: countedInEditor,
  });
  // A prompt file's reduce (#16): its requests and tokens from the expected result sizes.
  const reduceOf = prompt.reduce;
  const reduce = reduceOf && (await countedInEditor((tokenizer) => estimatePlanReduce(plan, { prompt: reduceOf.prompt, output: reduceOf.output, tokenizer, outputRatio: estimate.output.ratio, maxBatchTokens: settings.maxBatchTokens, ...fit })));
  const overCap = capWarning(estimate, capOfSettings(settings), CAP_SETTING_NAMES);
  const md = [
    '# Batch Prompt estimate',
    '',
    ...(overCap ? [`> **Warning.** ${overCap}`, ''] : []),
    `Prompt: ${prompt.label} · Model: ${choice?.label ?? 'none chosen'}`,
    '',
    '| | |',
    '|---|---|',
    `| Files | ${formatNumber(t.files)} |`,
    `| Chunks | ${formatNumber(t.chunks)} (at most ${formatNumber(plan.chunkTokens)} tokens each) |`,
    `| Requests (batches) | ${formatNumber(t.requests)} |`,
    `| Input tokens | ${formatNumber(t.inputTokens)} (prompt and wrapping included) |`,
    `| Skipped | ${describeSkipped(read, plan)} |`,
    '',
    renderEstimateMarkdown(estimate),
    ...(reduce ? [reduceEstimateMarkdown(reduce)] : []),
    '| File | Tokens | Chunks |',
    '|---|---:|---:|',
    ...plan.files.map((f) => `| ${f.path} | ${formatNumber(f.tokens)} | ${formatNumber(f.chunks.length)} |`),
    ...read.skipped.map((s) => `| ${s.path} | skipped: ${s.reason} (${s.detail}) | 0 |`),
  ].join('\n');
  if (ctx.documents) await ctx.documents.show(md);
  else await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ language: 'markdown', content: md }), { preview: true });
  return plan;
}
