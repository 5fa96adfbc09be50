import * as path from 'path';
import * as vscode from 'vscode';
import { ResultCache } from '../../core/store/resultCache';
import { Commands } from '../base/ids';
import { registerCommand } from '../base/lifecycle';
import type { Log } from '../base/log';
import { showInfo } from '../base/messages';
import type { Settings } from '../base/settingsSchema';

/**
 * The editor's result cache: a folder in VS Code's storage for this workspace, never inside the
 * workspace, where a run could read it as input or a commit could pick it up. Runs and estimates use
 * it when `batchPrompt.useCache` is on; "Clear Cache" empties it.
 */
export class ResultCacheFolder {
  constructor(
    /** Undefined when VS Code gives no file storage (then nothing is cached). */
    readonly dir: string | undefined,
  ) {}

  /** The folder under the extension's storage for this workspace (or its global storage without one). */
  static of(context: vscode.ExtensionContext): ResultCacheFolder {
    const storage = context.storageUri ?? context.globalStorageUri;
    return new ResultCacheFolder(storage.scheme === 'file' ? path.join(storage.fsPath, 'cache') : undefined);
  }

  /** The cache a run with these settings reads and fills, if any. */
  forSettings(settings: Pick<Settings, 'useCache'>): ResultCache | undefined {
    return settings.useCache && this.dir ? new ResultCache(this.dir) : undefined;
  }

  /** Empties the cache; the number of results removed. */
  async clear(): Promise<number> {
    return this.dir ? new ResultCache(this.dir).clear() : 0;
  }
}

/** "Clear Cache": empties the result cache, says how many results went; resolves to that number. */
export function registerClearCache(context: vscode.ExtensionContext, cache: ResultCacheFolder, log: Log): void {
  context.subscriptions.push(
    registerCommand(Commands.clearCache, async (): Promise<number> => {
      const removed = await cache.clear();
      log.info(`Result cache cleared: ${removed} result(s) removed.`);
      showInfo(`Batch Prompt: cache cleared (${removed} result${removed === 1 ? '' : 's'}). The next run sends every chunk.`);
      return removed;
    }),
  );
}
