import type { ErrorKind } from './errors';
import type { RunEvent } from './events';
import { formatDuration } from '../../util/format';

/** The span requests per minute are measured over: the last minute of the run. */
export const RATE_WINDOW_MS = 60_000;
/** A run younger than this has no rate yet (its first burst of requests is no pace). */
export const RATE_MIN_SPAN_MS = 5_000;

/**
 * Requests per minute over a sliding window: the requests started in the last `windowMs` divided by
 * the window's length, or by the time since `since` (the run's start) while the run is younger than the
 * window, so that a run 12 s old that sent 30 requests says 150, not 30. Undefined before
 * `RATE_MIN_SPAN_MS`.
 */
export function requestsPerMinute(starts: readonly number[], now: number, since: number, windowMs = RATE_WINDOW_MS): number | undefined {
  const span = Math.min(windowMs, now - since);
  if (span < RATE_MIN_SPAN_MS) return undefined;
  const from = now - span;
  let n = 0;
  for (const t of starts) if (t >= from && t <= now) n++;
  return Math.round((n / span) * 60_000);
}

/** "planning… 240 files" (or "… 240 of 600 files" when the total is known). */
export function planningText(files: number, total?: number): string {
  if (!files) return 'planning…';
  return `planning… ${files}${total ? ` of ${total}` : ''} file${(total ?? files) === 1 ? '' : 's'}`;
}

/** "HTTP 500" for a reply with a status, else the kind in words ("timeout", "rate limited"). */
function retryReason(kind: ErrorKind, status?: number): string {
  return status !== undefined ? `HTTP ${status}` : kind.replace(/-/g, ' ');
}

interface PendingRetry {
  chunkIds: readonly string[];
  until: number;
  reason: string;
}

/**
 * Counts a run's events into what a progress display needs: chunks done of total (those from the cache
 * among them), failures, requests in flight and waiting to be retried, the request rate over the last
 * minute, and an ETA from the pace so far. Shared by the CLI and the editor's progress and status bar.
 */
export class ProgressTracker {
  total = 0;
  done = 0;
  failed = 0;
  canceled = 0;
  /** Chunks answered from the result cache (counted in `done`). */
  cached = 0;
  inFlight = 0;
  inputTokens = 0;
  outputTokens = 0;
  concurrency = 0;
  /**
   * Files planned so far: before the run starts sending, or while a run that sends as it plans (#17)
   * still plans; undefined once its plan is complete (or before any planning was heard of).
   */
  planningFiles?: number;
  /** Set once the user canceled: the counts that follow are the run winding down. */
  canceling = false;
  /** A wait in progress ("rate limited, resuming in 12 s"), until the next request starts. */
  waitingUntil?: number;
  waitReason?: string;
  private started = false;
  private startedAt = 0;
  /** Chunks finished before the executor started (from the cache), when the total is not known yet. */
  private early = 0;
  private readonly retries = new Map<string, PendingRetry>();
  /** Start times of the requests of the last `RATE_WINDOW_MS`. */
  private readonly starts: number[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  update(e: RunEvent): void {
    switch (e.type) {
      case 'planning':
        this.planningFiles = e.files;
        this.total = Math.max(e.chunks, this.done);
        break;
      case 'plan-finished':
        this.planningFiles = undefined;
        this.total = Math.max(e.chunks, this.done);
        break;
      case 'run-started':
        this.started = true;
        // Chunks answered from the cache were counted before the executor knew of the rest.
        this.total = e.chunks + this.early;
        this.concurrency = e.concurrency;
        this.startedAt = this.now();
        if (e.planning) this.planningFiles ??= 0;
        else this.planningFiles = undefined;
        break;
      case 'batch-started': {
        this.inFlight++;
        this.waitingUntil = undefined;
        this.retries.delete(e.batchId);
        const now = this.now();
        this.starts.push(now);
        while (this.starts.length && this.starts[0] <= now - RATE_WINDOW_MS) this.starts.shift();
        break;
      }
      case 'batch-finished':
        this.inFlight = Math.max(0, this.inFlight - 1);
        this.inputTokens += e.inputTokens;
        this.outputTokens += e.outputTokens;
        break;
      case 'chunk-finished':
        this.done++;
        if (!this.started) this.early++;
        if (e.outcome.cached) this.cached++;
        if (e.outcome.status === 'failed') this.failed++;
        if (e.outcome.status === 'canceled') this.canceled++;
        for (const [id, r] of this.retries) if (r.chunkIds.includes(e.outcome.chunk.id)) this.retries.delete(id);
        break;
      case 'retry-scheduled':
        this.retries.set(e.batchId, { chunkIds: e.chunkIds, until: this.now() + e.delayMs, reason: retryReason(e.reason, e.status) });
        break;
      case 'concurrency-changed':
        // Relative: with several endpoints each changes its own share of the run's concurrency.
        this.concurrency += e.to - e.from;
        break;
      case 'waiting':
        this.waitingUntil = this.now() + e.delayMs;
        this.waitReason = e.reason === 'rate-limited' ? 'rate limited' : e.reason === 'requests-per-minute' ? 'request budget' : 'token budget';
        break;
      case 'run-finished':
        this.retries.clear();
        break;
      default:
        break;
    }
  }

  /** The user canceled: what is shown is "canceling…" until the run's result. */
  cancel(): void {
    this.canceling = true;
  }

  /** Requests per minute over the last minute (see `requestsPerMinute`); undefined early in the run. */
  requestsPerMinute(): number | undefined {
    return this.started ? requestsPerMinute(this.starts, this.now(), this.startedAt) : undefined;
  }

  /** Milliseconds left at the pace so far, once a chunk has been answered by the model and the plan is complete. */
  etaMs(): number | undefined {
    if (this.planningFiles !== undefined) return undefined;
    const sent = this.done - this.early;
    if (sent <= 0 || this.done >= this.total) return undefined;
    const elapsed = this.now() - this.startedAt;
    return (elapsed / sent) * (this.total - this.done);
  }

  /**
   * "37/120 chunks · 2 failed · ETA 1m 20s", "6/6 chunks · 6 from the cache", "planning… 240 files",
   * "planning… 40 files so far · 37/120 chunks" (a run that sends as it plans: no ETA until its plan is
   * complete), "0/6 chunks · retrying 3 requests (HTTP 500), next in 4 s", "canceling…".
   */
  describe(): string {
    if (this.canceling) return 'canceling…';
    if (this.done === 0 && (!this.started || (this.planningFiles !== undefined && this.total === 0))) return planningText(this.planningFiles ?? 0);
    const parts = [`${this.done}/${this.total || this.done} chunks`];
    if (this.planningFiles !== undefined) parts.unshift(`${planningText(this.planningFiles)}${this.planningFiles ? ' so far' : ''}`);
    if (this.cached) parts.push(`${this.cached} from the cache`);
    if (this.failed) parts.push(`${this.failed} failed`);
    const now = this.now();
    const retry = this.retryText(now);
    if (retry) parts.push(retry);
    else if (this.waitingUntil && this.waitingUntil > now) {
      parts.push(`${this.waitReason}, resuming in ${formatDuration(this.waitingUntil - now)}`);
    } else {
      const eta = this.etaMs();
      if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
    }
    return parts.join(' · ');
  }

  /**
   * The status bar's short form: "canceling…", "planning… 240 files", "3/6 · 2 cached · 1 failed",
   * "0/6 · retrying 3 (HTTP 500) in 4 s".
   */
  brief(): string {
    if (this.canceling || (this.done === 0 && (!this.started || (this.planningFiles !== undefined && this.total === 0)))) return this.describe();
    const parts = [`${this.done}/${this.total || this.done}`];
    if (this.planningFiles !== undefined) parts.unshift(planningText(this.planningFiles));
    if (this.cached) parts.push(`${this.cached} cached`);
    if (this.failed) parts.push(`${this.failed} failed`);
    const retry = this.retryText(this.now());
    if (retry) parts.push(retry.replace(/ requests?/, '').replace(', next in', ' in'));
    return parts.join(' · ');
  }

  /** "retrying 3 requests (HTTP 500), next in 4 s" while requests wait on their backoff. */
  private retryText(now: number): string | undefined {
    if (this.retries.size === 0) return undefined;
    const all = [...this.retries.values()];
    const reasons = [...new Set(all.map((r) => r.reason))].join(', ');
    const next = Math.min(...all.map((r) => r.until));
    const n = all.length;
    return `retrying ${n} request${n === 1 ? '' : 's'} (${reasons})${next > now ? `, next in ${formatDuration(next - now)}` : ''}`;
  }
}
