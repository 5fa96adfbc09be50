// core/session/feed.ts: the bounded queue between a run's planner and its executor (#17).
import type { BatchFeed } from '../execute/executor';
import type { ChunkRef, PackedRequest } from '../plan/types';

/** Batches planned but not yet taken by the executor, at most: past it the planner waits. */
export const FEED_BOUND = 32;

/**
 * An async queue of batches: pushed by the planner's side, read by the executor (`BatchFeed`), which
 * takes one only when it has room (see `executeRequests`). `push` waits while the feed holds `bound`
 * batches, so planned-but-unsent text does not pile up when requests are behind; the planner's side
 * awaits it and so plans no further. Closing the feed lets every waiting push go (and ends the reader
 * once it has read what was pushed).
 */
export class FeedQueue implements BatchFeed {
  private readonly items: PackedRequest<ChunkRef>[] = [];
  private closed = false;
  private wake?: () => void;
  private readonly waiting: (() => void)[] = [];
  private starving = false;
  private holding = false;

  constructor(readonly bound = FEED_BOUND) {}

  /** True while `hold` keeps the reader waiting (see `hold`). */
  get held(): boolean {
    return this.holding;
  }

  /**
   * The reader gets nothing more until `release` (a run waiting for its confirmation, #17): what is
   * pushed meanwhile is kept without bound (pushes no longer wait), so the planner can finish the plan
   * the confirmation shows. Batches are chunk ranges, not texts: holding them costs little.
   */
  hold(): void {
    this.holding = true;
    for (const w of this.waiting.splice(0)) w();
  }

  /** The reader goes on with what was held. */
  release(): void {
    this.holding = false;
    this.wake?.();
  }

  /** Takes every batch not yet read (what a declined confirmation leaves unsent). */
  takeAll(): PackedRequest<ChunkRef>[] {
    const all = this.items.splice(0);
    for (const w of this.waiting.splice(0)) w();
    return all;
  }

  /** True while the reader waits on an empty feed: requests wait for the plan (the executor has room). */
  get starved(): boolean {
    return this.starving;
  }

  /** Batches pushed and not yet read. */
  get length(): number {
    return this.items.length;
  }

  /** Resolves once the feed holds fewer than `bound` batches and no push waits (or it is closed): the planner may go on. */
  async room(): Promise<void> {
    while (!this.closed && !this.holding && (this.items.length >= this.bound || this.waiting.length > 0)) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Queues `item` once the feed holds fewer than `bound` batches (at once when it does). */
  async push(item: PackedRequest<ChunkRef>): Promise<void> {
    while (!this.closed && !this.holding && this.items.length >= this.bound) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.closed) throw new Error('The feed is closed.');
    this.items.push(item);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
    for (const w of this.waiting.splice(0)) w();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PackedRequest<ChunkRef>> {
    for (;;) {
      // A closed feed gives what it holds (a stopped run cancels it) rather than wait for a release.
      if (this.items.length && (!this.holding || this.closed)) {
        const item = this.items.shift()!;
        for (const w of this.waiting.splice(0)) w();
        yield item;
        continue;
      }
      if (this.closed) return;
      this.starving = this.items.length === 0;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.starving = false;
      this.wake = undefined;
    }
  }
}

/** Steps (a planned file's record, a batch's hand-over) queued after the planner and not yet done, at most, before the planner waits. */
export const STEP_BACKLOG = 8;

/**
 * The steps between the planner and the feed, done one after another in the order they were added.
 * The first failure is kept (`failure`) and the steps after it are skipped. A step waiting on a full
 * feed holds the ones behind it: `below` lets the planner wait for them instead of planning on (their
 * texts and batches would pile up here instead of in the feed).
 */
export class StepQueue {
  /** The first step's error, or one a caller records (`??=`): what the run ends with. */
  failure: unknown;
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly waiting: (() => void)[] = [];

  add(step: () => Promise<void>): void {
    this.pending++;
    this.chain = this.chain
      .then(async () => {
        if (this.failure === undefined) await step().catch((e: unknown) => void (this.failure = e));
      })
      .finally(() => {
        this.pending--;
        for (const w of this.waiting.splice(0)) w();
      });
  }

  /** Resolves once every step added so far is done. */
  done(): Promise<void> {
    return this.chain;
  }

  /** Resolves once at most `n` steps are pending. */
  async below(n = STEP_BACKLOG): Promise<void> {
    while (this.pending > n) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
}
