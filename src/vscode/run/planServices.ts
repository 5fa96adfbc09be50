import * as path from 'path';
import type * as vscode from 'vscode';
import { sharedChunkPool } from '../../core/plan/chunkPool';
import { PlanCache } from '../../core/plan/planCache';
import type { PlanServices } from '../../core/plan/parallelPlan';

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

/** Small plans chunk in this thread only while each costs well under 50 ms of the host's thread. */
const EDITOR_IN_THREAD_CHARS = 64 * 1024;

/** What an editor plan chunks with: the pool, and the plan cache when `useCache` is on. */
export function editorPlanServices(useCache: boolean): PlanServices {
  return {
    pool: sharedChunkPool(),
    inThreadChars: EDITOR_IN_THREAD_CHARS,
    ...(useCache && planCacheDir ? { cache: new PlanCache(planCacheDir) } : {}),
  };
}
