import type { RunEvent } from './events';
import { formatDuration } from '../../util/format';

/**
 * Counts a run's events into what a progress display needs: chunks done of total, failures, requests in
 * flight, and an ETA from the pace so far. Shared by the CLI and the editor's progress and status bar.
 */
export class ProgressTracker {
  total = 0;
  done = 0;
  failed = 0;
  canceled = 0;
  inFlight = 0;
  inputTokens = 0;
  outputTokens = 0;
  concurrency = 0;
  /** Files planned so far while the run still plans (it sends as it plans); undefined once the plan is complete. */
  planningFiles?: number;
  /** A wait in progress ("rate limited, resuming in 12 s"), until the next request starts. */
  waitingUntil?: number;
  waitReason?: string;
  private startedAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  update(e: RunEvent): void {
    switch (e.type) {
      case 'run-started':
        this.total = e.chunks;
        this.concurrency = e.concurrency;
        this.startedAt = this.now();
        if (e.planning) this.planningFiles ??= 0;
        break;
      case 'planning':
        this.planningFiles = e.files;
        this.total = e.chunks;
        break;
      case 'plan-finished':
        this.planningFiles = undefined;
        this.total = e.chunks;
        break;
      case 'batch-started':
        this.inFlight++;
        this.waitingUntil = undefined;
        break;
      case 'batch-finished':
        this.inFlight = Math.max(0, this.inFlight - 1);
        this.inputTokens += e.inputTokens;
        this.outputTokens += e.outputTokens;
        break;
      case 'chunk-finished':
        this.done++;
        if (e.outcome.status === 'failed') this.failed++;
        if (e.outcome.status === 'canceled') this.canceled++;
        break;
      case 'concurrency-changed':
        // Relative: with several endpoints each changes its own share of the run's concurrency.
        this.concurrency += e.to - e.from;
        break;
      case 'waiting':
        this.waitingUntil = this.now() + e.delayMs;
        this.waitReason = e.reason === 'rate-limited' ? 'rate limited' : e.reason === 'requests-per-minute' ? 'request budget' : 'token budget';
        break;
      default:
        break;
    }
  }

  /** Milliseconds left at the pace so far, once a chunk has finished and the plan is complete. */
  etaMs(): number | undefined {
    if (this.planningFiles !== undefined || this.done === 0 || this.done >= this.total) return undefined;
    const elapsed = this.now() - this.startedAt;
    return (elapsed / this.done) * (this.total - this.done);
  }

  /** "37/120 chunks · 2 failed · ETA 1m 20s" (or "… · rate limited, resuming in 12 s"; "planning… 40 files so far · 37/120 chunks" while it plans). */
  describe(): string {
    const parts = [`${this.done}/${this.total} chunks`];
    if (this.planningFiles !== undefined) parts.unshift(`planning… ${this.planningFiles} file${this.planningFiles === 1 ? '' : 's'} so far`);
    if (this.failed) parts.push(`${this.failed} failed`);
    const now = this.now();
    if (this.waitingUntil && this.waitingUntil > now) {
      parts.push(`${this.waitReason}, resuming in ${formatDuration(this.waitingUntil - now)}`);
    } else {
      const eta = this.etaMs();
      if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
    }
    return parts.join(' · ');
  }
}
