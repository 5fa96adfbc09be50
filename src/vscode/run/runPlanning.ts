import { formatNumber } from '../../util/format';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { planningText } from '../../core/execute/progress';
import type { ChatModel } from '../../core/execute/model';
import type { Plan } from '../../core/plan/plan';
import { describePlanCounts, ParallelPlanner } from '../../core/plan/parallelPlan';
import { sharedChunkPool } from '../../core/plan/chunkPool';
import { costOf, formatCost, type Prices } from '../../core/store/report';
import { modelInfoOf as modelInfoOfEndpoint, type RunSettings } from '../../core/session/prepare';
import type { RunMeta } from '../../core/store/runStore';
import type { OutputSpec } from '../../core/output/spec';
import { getTokenizer } from '../../core/plan/tokenizer';
import { expandSelection, findByGlob, readFiles, type ReadResult, type RunRoots } from './fileSelection';
import type { ModelChoice } from './models';
import { editorPlanServices } from './planServices';
import { askModal, showError, showWarning } from '../base/messages';
import type { Settings } from '../base/settingsSchema';

// The steps a run and an estimate share before anything is sent: reading and planning the selected
// files, asking before a large run, and turning settings and the chosen model into the run's records.

const NEEDS_FOLDER = 'Batch Prompt needs an open folder: open the folder that holds your files, then run again.';
const NO_FILE_MATCHES = 'Batch Prompt: no file matches (files.exclude and search.exclude apply). Pick other files or another glob.';

/** Whether a folder is open (runs read and write there); false after telling the user. */
export function hasFolder(roots: RunRoots): boolean {
  if (!roots.primary) showError(NEEDS_FOLDER);
  return !!roots.primary;
}

/** The files selected (folders expanded), else those matching `glob`; undefined after telling the user none matches. */
export async function matchingFiles(uris: vscode.Uri[] | undefined, glob: string): Promise<vscode.Uri[] | undefined> {
  const found = uris ? await expandSelection(uris) : await findByGlob(glob);
  if (found.length === 0) showWarning(NO_FILE_MATCHES);
  return found.length ? found : undefined;
}

/** Reads and plans the files, with a cancellable "Planning" notification for large selections. */
export async function planFiles(uris: vscode.Uri[], roots: RunRoots, settings: Settings, prompt: string, model: Pick<ChatModel, 'contextWindow' | 'maxOutputTokens'>, output?: OutputSpec): Promise<{ plan: Plan; read: ReadResult; /** Where the files were chunked (for the log). */ chunkedWhere: string } | undefined> {
  const tokenizer = getTokenizer();
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Batch Prompt', cancellable: true }, async (progress, token) => {
    const controller = new AbortController();
    token.onCancellationRequested(() => controller.abort());
    const planner = new ParallelPlanner({
      prompt,
      tokenizer,
      chunk: { chunkTokens: settings.chunkTokens, overlapTokens: settings.overlapTokens },
      pack: { chunksPerBatch: settings.chunksPerBatch, maxBatchTokens: settings.maxBatchTokens, contextWindow: model.contextWindow, maxOutputTokens: model.maxOutputTokens },
      ...(output ? { output } : {}),
    }, editorPlanServices(settings.useCache));
    try {
      // "planning… 240 of 600 files", redrawn at most ten times a second.
      let planned = 0;
      let drawn = 0;
      progress.report({ message: planningText(0) });
      const read = await readFiles(
        uris,
        roots,
        settings,
        async (f) => {
          await planner.add(f);
          planned++;
          const now = Date.now();
          if (now - drawn >= 100) {
            drawn = now;
            progress.report({ message: planningText(planned, uris.length) });
          }
        },
        controller.signal,
        planner.known,
      );
      const plan = await planner.finish();
      if (planner.counts.inThread + planner.counts.pooled > 0) void planner.cache?.prune().catch(() => undefined);
      return { plan, read, chunkedWhere: describePlanCounts(planner.counts, sharedChunkPool().size) };
    } catch (e) {
      if (controller.signal.aborted) return undefined;
      throw e;
    }
  });
}

/**
 * Asks before a run of `batchPrompt.confirmAbove` requests or more (true at once below it). A run that
 * sends as it plans (#17) may have sent fewer than that many while planning: `sent` says so.
 */
export async function confirmRun(plan: Plan, read: ReadResult, settings: Settings, prices: Prices, choice: ModelChoice, sent = 0): Promise<boolean> {
  const t = plan.totals;
  if (t.requests < settings.confirmAbove) return true;
  const cost = costOf(t.inputTokens, 0, prices);
  const rest = Math.max(0, t.requests - sent);
  const send = sent ? `Send the Other ${rest}` : `Send ${t.requests} Request${t.requests === 1 ? '' : 's'}`;
  const early = sent ? `${sent} of them went out while the files were planned (fewer than batchPrompt.confirmAbove); the others wait for this answer.` : undefined;
  return askModal(
    'info',
    `Batch Prompt: send ${t.chunks} chunks of ${t.files} files to ${choice.label} in ${t.requests} requests?`,
    [`About ${formatNumber(t.inputTokens)} input tokens${cost !== undefined ? `, ${formatCost(cost)} of input` : ''}.`, describeSkipped(read, plan), ...(early ? [early] : []), `Asked for runs of ${settings.confirmAbove} or more requests (setting batchPrompt.confirmAbove).`].join('\n'),
    send,
  );
}

/** `p` with the links of its longest existing ancestor resolved (the rest may not exist yet). */
export function realPathOf(p: string): string {
  const rest: string[] = [];
  for (let dir = p; ; dir = path.dirname(dir)) {
    try {
      return path.join(fs.realpathSync(dir), ...rest);
    } catch {
      if (path.dirname(dir) === dir) return p;
      rest.unshift(path.basename(dir));
    }
  }
}

/** The settings a run is given, in the names `core/session` takes (see `runParameters`). */
export function runSettingsOf(s: Settings): RunSettings {
  return {
    maxConcurrency: s.maxConcurrency,
    maxRetries: s.maxRetries,
    requestTimeoutSeconds: s.requestTimeoutSeconds,
    requestsPerMinute: s.requestsPerMinute,
    tokensPerMinute: s.tokensPerMinute,
    chunkTokens: s.chunkTokens,
    overlapTokens: s.overlapTokens,
    chunksPerBatch: s.chunksPerBatch,
    maxBatchTokens: s.maxBatchTokens,
    dropAfterFailures: s.dropEndpointAfterFailures,
    dropAfterWaitSeconds: s.dropEndpointAfterWaitSeconds,
  };
}

/** How run.json names the chosen model (see `core/session` `modelInfoOf`); a VS Code model by its family. */
export function modelInfoOf(choice: ModelChoice): RunMeta['model'] {
  return modelInfoOfEndpoint(choice.endpoint ? { ...choice.endpoint, id: choice.id } : { id: choice.id, provider: 'vscode-lm', model: choice.chat?.family });
}

export function pricesOf(choice: ModelChoice): Prices {
  return { inputCostPerMTok: choice.endpoint?.inputCostPerMTok, outputCostPerMTok: choice.endpoint?.outputCostPerMTok };
}

export function describeSkipped(read: ReadResult, plan: Plan): string {
  const byReason = new Map<string, number>();
  for (const s of read.skipped) byReason.set(s.reason, (byReason.get(s.reason) ?? 0) + 1);
  const parts = [...byReason].map(([r, n]) => `${n} ${r}`);
  if (plan.empty.length) parts.push(`${plan.empty.length} empty`);
  if (read.gitignored) parts.push(`${read.gitignored} gitignored`);
  if (read.outside) parts.push(`${read.outside} outside the workspace`);
  return parts.length ? `Skipped: ${parts.join(', ')}.` : 'No file skipped.';
}
