import type { EndpointPool, EndpointState } from './endpointPool';
import type { Clock } from './rateLimit';
import { UnitQueue } from './unitQueue';

export interface DispatchHooks<U> {
  /** Runs a unit on an endpoint, inside one of that endpoint's concurrency slots. */
  run(unit: U, ep: EndpointState): Promise<void>;
  /** Ends a unit still queued when the run stops. */
  cancel(unit: U): Promise<void>;
  /** Called once per unit taken off the queue, when its run or cancel has ended. */
  done(): void;
  /** Called each time a unit is taken off the queue (to run or to cancel): there is room for another. */
  taken?(): void;
}

/**
 * The executor's one queue of ready units and the pump that hands them out: each goes to an endpoint
 * with a free slot (the pool's choice), as a p-limit task of that endpoint's adaptive concurrency,
 * until no endpoint can take one or the queue is empty. When only paused endpoints have room, a timer
 * pumps again as soon as the first pause ends. After `stop`, queued units are cancelled.
 */
export class Dispatcher<U> {
  private readonly queue = new UnitQueue<U>();
  private pumping = false;
  /** The timer that pumps again when the first paused endpoint opens, and when it is due. */
  private wake?: AbortController;
  private wakeAt = 0;

  constructor(
    private readonly pool: EndpointPool,
    private readonly clock: Clock,
    private readonly stop: AbortSignal,
    private readonly hooks: DispatchHooks<U>,
  ) {
    stop.addEventListener('abort', () => this.pump(), { once: true });
  }

  /** Units waiting for a slot. */
  get length(): number {
    return this.queue.length;
  }

  /** Queues a unit last and hands out what can go now. */
  push(unit: U): void {
    this.queue.push(unit);
    this.pump();
  }

  /** Puts a unit first (handed back by a paused or dropped endpoint); the caller's finished task pumps. */
  unshift(unit: U): void {
    this.queue.unshift(unit);
  }

  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length) {
        if (this.stop.aborted) {
          void this.hooks.cancel(this.queue.shift()!).finally(() => this.hooks.done());
          this.hooks.taken?.();
          continue;
        }
        const ep = this.pool.pick(this.clock.now());
        if (!ep) {
          this.wakeLater();
          break;
        }
        const unit = this.queue.shift()!;
        ep.inFlight++;
        void ep.concurrency.limit(() => this.hooks.run(unit, ep)).finally(() => {
          ep.inFlight--;
          this.pump();
          this.hooks.done();
        });
        this.hooks.taken?.();
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Drops the wake-up timer (the run has ended). */
  close(): void {
    this.wake?.abort();
    this.wake = undefined;
  }

  private wakeLater(): void {
    const now = this.clock.now();
    const ms = this.pool.nextOpening(now);
    if (ms === undefined) return; // every endpoint is busy: the next finished unit pumps again
    if (this.wake && this.wakeAt <= now + ms) return;
    this.wake?.abort();
    const wake = (this.wake = new AbortController());
    this.wakeAt = now + ms;
    this.clock.sleep(ms, wake.signal).then(
      () => {
        if (this.wake !== wake) return;
        this.wake = undefined;
        this.pump();
      },
      () => undefined,
    );
  }
}
