import type { Log } from './base/log';
import type { KeyStore } from './base/secrets';
import type { LiveResults } from './live/liveResults';
import type { ModelService } from './run/models';
import type { ResultCacheFolder } from './run/resultCacheFolder';
import type { RunService } from './run/runService';

/**
 * What `activate()` builds once and hands to every feature's `register…(context, services)`. Each is
 * disposed through `context.subscriptions`; a feature adds its own registrations there too.
 */
export interface Services {
  readonly log: Log;
  readonly keys: KeyStore;
  readonly models: ModelService;
  /** The result cache's folder (VS Code's storage for the workspace). */
  readonly cache: ResultCacheFolder;
  /** Live results documents of streamed runs; `registerLiveResults` makes them readable. */
  readonly live: LiveResults;
  readonly runs: RunService;
}
