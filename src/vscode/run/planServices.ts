import * as path from 'path';
import type * as vscode from 'vscode';
import { sharedChunkPool } from '../../core/plan/chunkPool';
import { PlanCache } from '../../core/plan/planCache';
import { countedOffThread, PrecountedTokenizer } from '../../core/plan/offThreadCounts';
import type { Measure } from '../../core/execute/executor';
import { EDITOR_PLAN_SETTINGS, type PlanServices } from '../../core/plan/parallelPlan';
import { getTokenizer, isEncodingLoaded, type Tokenizer } from '../../core/plan/tokenizer';

/**
 * Chunking in the editor (#17): worker threads, so the extension host's thread (shared by every
 * extension) only reads, hashes and packs; and the plan cache in the extension's global storage (keyed
 * by content, so one cache serves every workspace).
 */
let planCacheDir: string | undefined;

/** Where the plan cache lives, and the pool's end with the extension. Called once by `activate`. */
export function registerPlanning(context: vscode.ExtensionContext): void {
  const storage = context.globalStorageUri;
  planCacheDir = storage.scheme === 'file' ? path.join(storage.fsPath, 'plans') : undefined;
  context.subscriptions.push({ dispose: () => void sharedChunkPool().close() });
}

/**
 * What an editor plan chunks with: the pool, and the plan cache when `useCache` is on. The host's
 * thread never loads the encoding for it (300–900 ms): unless something loaded it already, every file
 * and every count packing needs goes to the pool; texts read ahead are bounded (`EDITOR_PLAN_SETTINGS`).
 */
export function editorPlanServices(useCache: boolean): PlanServices {
  return {
    pool: sharedChunkPool(),
    ...EDITOR_PLAN_SETTINGS,
    ...(useCache && planCacheDir ? { cache: new PlanCache(planCacheDir) } : {}),
  };
}

/**
 * `compute` with the shared tokenizer's counts, made in the planning pool unless the host's thread has
 * loaded the encoding already (Estimate Run…: its packing counts every chunk's wrapper, #17).
 */
export function countedInEditor<T>(compute: (tokenizer: Tokenizer) => T, tokenizer: Tokenizer = getTokenizer()): Promise<T> {
  const pool = sharedChunkPool();
  if (isEncodingLoaded(tokenizer) || !pool.available) return Promise.resolve(compute(tokenizer));
  return countedOffThread(tokenizer.encoding, (texts, encoding) => pool.count(texts, encoding), compute, { fallback: tokenizer });
}

/**
 * A run's token counts in the editor (#17, `ExecutorOptions.measure`): made in the planning pool until
 * the host's thread has the encoding, and kept, so that `known` answers them at once (packing after
 * cache hits measures first); a text not measured is counted in this thread.
 */
export function editorRunCounts(runTokenizer: Tokenizer): Measure {
  const known = new PrecountedTokenizer(runTokenizer.encoding, runTokenizer);
  const pool = sharedChunkPool();
  const measure = <T>(compute: (tokenizer: Tokenizer) => T): Promise<T> => {
    if (isEncodingLoaded(runTokenizer) || !pool.available) return Promise.resolve(compute(runTokenizer));
    return countedOffThread(runTokenizer.encoding, (texts, encoding) => pool.count(texts, encoding), compute, { known });
  };
  return Object.assign(measure, { known });
}
