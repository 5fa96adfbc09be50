/**
 * The executor: sends a run's batches (requests) to its endpoints and ends every chunk exactly once.
 * Over 400 lines because `Execution` is one state machine over shared counters (dispatch, retries,
 * splits of a request that overflowed, endpoint drops, cancel, a fatal stop); the parts that stand
 * alone already live beside it (endpointPool, dispatcher, rateLimit, unitQueue, errors, events).
 */
import { setMaxListeners } from 'events';
import { splitChunk } from '../plan/chunker';
import { editableOf, splitEditChunk } from '../plan/editChunker';
import { checkEdit, lineEndingOf } from '../output/editText';
import { BatchPromptError, CanceledError, ContextOverflowError, describeError, SourceChangedError, StructuredModeRefusedError, TimeoutError, TruncatedError, type ErrorKind } from './errors';
import type { ChunkOutcome, ExecutionSummary, RunEvent } from './events';
import type { ChatMessage, ChatModel, ChatRequest, ChatResponse } from './model';
import { chunkCost, requestOverhead } from '../plan/packer';
import { buildMessages, buildRepairMessages, parseReply, structuredRequest, type AnswerMode } from '../plan/protocol';
import { decodeEntries, encodeEntries, isStructured, validatorOf, type OutputSpec } from '../output/spec';
import { readStructuredReply } from '../output/reply';
import type { ItemValidator } from '../output/validate';
import { EndpointPool, type EndpointState, type ExecutorEndpoint } from './endpointPool';
import { backoffDelay, realClock, type Clock } from './rateLimit';
import { Dispatcher } from './dispatcher';
import { BUDGET_KIND, CAPPED_MAX_OUTPUT_TOKENS, hasCap, SpendGate, type BudgetOptions, type Reservation } from './budget';
import { joinOutputs } from '../../util/text';
import { inThread, type Counted } from '../plan/offThreadCounts';
import type { Tokenizer } from '../plan/tokenizer';
import type { PackedRequest, Chunk, ChunkRef } from '../plan/types';

/** Token counts made elsewhere (see `ExecutorOptions.measure`). */
export type Measure = Counted & {
  /** Answers at once what was measured so far (a text not measured is counted in this thread). */
  readonly known?: Tokenizer;
};

export interface ExecutorOptions {
  prompt: string;
  model: ChatModel;
  tokenizer: Tokenizer;
  /** Most requests in flight (default 4); lowered after a rate limit, raised back by successes. */
  maxConcurrency?: number;
  /** Retries of a transient failure before the chunk fails (default 3). */
  maxRetries?: number;
  /** Per-request timeout (default 120 s). */
  requestTimeoutMs?: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  signal?: AbortSignal;
  /** Reads a chunk's text just before it is sent; by default chunks carry their text. */
  loadText?: (chunk: ChunkRef) => Promise<string> | string;
  /** Progress, synchronously; must not throw. */
  onEvent?: (event: RunEvent) => void;
  /** Every chunk's outcome, awaited before the run finishes (write it to disk here). */
  onOutcome?: (outcome: ChunkOutcome) => Promise<void> | void;
  /**
   * When given, replies are streamed and each piece of a request's reply text comes here as it arrives.
   * Live display only: a retry of the batch starts again from nothing (its `batch-started` event says
   * so), and only a complete reply becomes outcomes. A throwing listener is ignored.
   */
  onText?: (batchId: string, chunkIds: readonly string[], delta: string) => void;
  /**
   * Where the executor's token counts are made (a request's size, the tokens of a reply without usage):
   * `compute` is given a tokenizer and its result awaited. In this thread with `tokenizer` by default;
   * the editor counts in its planning pool until the encoding is loaded in its thread (#17), so that a
   * run never loads it on the extension host's thread.
   */
  measure?: Measure;
  clock?: Clock;
  random?: () => number;
  /**
   * Several endpoints serving the same prompt, each with its own limits (the run's limits above are
   * their defaults); the first is the primary. When left out, `model` is the one endpoint.
   */
  endpoints?: readonly ExecutorEndpoint[];
  /** Consecutive transient failures that take an endpoint out of a several-endpoint run (default 3). */
  dropAfterFailures?: number;
  /** A 429 asking to wait longer than this takes an endpoint out of a several-endpoint run (default 60 s). */
  dropAfterRetryAfterMs?: number;
  /**
   * The run's output kind (#14), text by default. In a structured kind every answer is parsed and
   * checked against the item schema (and, for findings, the chunk's lines); an invalid one is asked
   * again alone, once, with the error quoted (the repair), then fails `invalid-output`. Endpoints whose
   * model has a structured-output mode get the batch's answer schema; one that refuses the mode falls
   * back to the tagged protocol for the rest of the run, without charging the chunks.
   */
  output?: OutputSpec;
  /**
   * The words of each request in place of the protocol's (the reduce step, core/reduce, asks for one
   * combined answer per chunk it sends). The reply is read as the protocol's: one `<result id>` per
   * chunk, or the structured-mode object; everything else (limits, retries, repairs) is unchanged.
   */
  framing?: RequestFraming;
  /**
   * A spend cap (#17, see budget.ts): a request is sent only while the run's spend plus the worst case of
   * the requests in flight and of this one stays within it; once a request would pass it alone, nothing
   * more is sent and the chunks left end `canceled` with the reason `budget`. Requests of an endpoint
   * without an output limit are sent with `CAPPED_MAX_OUTPUT_TOKENS`, so that their worst case is known.
   */
  budget?: BudgetOptions;
}

/** The messages of a request, when a caller frames its chunks itself (see `ExecutorOptions.framing`). */
export interface RequestFraming {
  /** The messages carrying `chunks` (a repair's, asking again with the invalid answer and its error, when `repair` is given). */
  messages(chunks: readonly Chunk[], supportsSystemMessage: boolean, mode: AnswerMode, repair?: { answer: string; error: string }): ChatMessage[];
  /** Tokens of everything in a request of `count` chunks that is not a chunk's text and wrapper (as `requestOverhead`). */
  overhead(count: number): number;
}

/** A chunk, or a part of one that had to be split to fit the context window, on its way through. */
interface Item {
  ref: ChunkRef;
  attempts: number;
  /** Its share of the usage of earlier requests that did not settle it (a reply without its answer, a repair). */
  carried?: { inputTokens: number; outputTokens: number };
  /** Set for parts of a split chunk: the outcome goes to the group, not to the caller. */
  group?: SplitGroup;
  /** Text of a split part (the parts are not in any file's chunk list). */
  text?: string;
  /** Structured kinds: the invalid answer and its first error, while the item is sent as a repair. */
  repair?: { answer: string; error: string };
  /** Structured kinds: the one repair was asked for. */
  repaired?: boolean;
}

interface SplitGroup {
  item: Item;
  /** Ids of the two parts, in order. */
  partIds: string[];
  outputs: (string | undefined)[];
  pending: number;
  settled: boolean;
  inputTokens: number;
  outputTokens: number;
  /** Edit runs: the notes of parts flagged suspicious. */
  notes: string[];
}

export interface Unit {
  batchId: string;
  items: Item[];
}

/** Chunks smaller than this that still overflow are failed: the prompt itself is too large. */
const MIN_SPLIT_TOKENS = 16;

/**
 * Runs batches against a model with bounded, adaptive concurrency and records one outcome per chunk.
 * A chunk's failure never fails the run (LangChain's `return_exceptions`): it ends `failed` with a typed
 * reason. Only an error no retry can fix (bad key, spent quota, missing model) ends the run early, and
 * then every chunk not yet finished ends `canceled` and `summary.fatal` says why. Aborting `signal`
 * cancels requests in flight; finished results are kept. Retries are new tasks, never nested calls.
 */
export async function executeRequests(batches: readonly PackedRequest<ChunkRef>[] | BatchFeed, options: ExecutorOptions): Promise<ExecutionSummary> {
  const run = new Execution(options);
  return run.start(batches);
}

/**
 * Batches that arrive while the run goes (a run that sends as it plans): each is queued as it comes,
 * so the first request leaves with the first batch. The run ends once the feed has ended and every
 * chunk it gave has ended; a feed that throws ends the feed there (its caller reports why). After a
 * stop, batches still coming are canceled as queued ones are: every chunk fed ends exactly once.
 */
export type BatchFeed = AsyncIterable<PackedRequest<ChunkRef>>;

class Execution {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly maxRetries: number;
  private readonly timeoutMs: number;
  private readonly pool: EndpointPool;
  /** Units ready to send, shared by every endpoint; handed to endpoints with a free slot. */
  private readonly queue: Dispatcher<Unit>;
  private readonly stop = new AbortController();
  private readonly summary: ExecutionSummary = { succeeded: 0, failed: 0, canceled: 0, requests: 0, inputTokens: 0, outputTokens: 0, durationMs: 0 };
  private readonly overheadByCount = new Map<number, number>();
  private outstanding = 0;
  private finished!: () => void;
  private readonly done = new Promise<void>((resolve) => (this.finished = resolve));
  private splitCounter = 0;
  /** Structured kinds: checks every value (compiled once). */
  private readonly validator?: ItemValidator;
  /** Endpoints that refused the structured-output mode in this run: tagged protocol from then on. */
  private readonly taggedOnly = new Set<EndpointState>();
  /** The spend cap's bookkeeping, when the run has one; each unit in flight holds a reservation. */
  private readonly spend?: SpendGate;
  /** Per unit being run, the slot its reservation is kept in (a new slot per run: a unit handed back runs again). */
  private readonly reservations = new Map<Unit, { r?: Reservation }>();
  /** A feed waiting for room in the queue (see `drain`). */
  private room?: () => void;

  constructor(private readonly o: ExecutorOptions) {
    if (hasCap(o.budget?.cap)) this.spend = new SpendGate(o.budget);
    if (o.output && isStructured(o.output)) this.validator = validatorOf(o.output);
    this.clock = o.clock ?? realClock;
    this.random = o.random ?? Math.random;
    this.maxRetries = o.maxRetries ?? 3;
    this.timeoutMs = o.requestTimeoutMs ?? 120_000;
    this.pool = new EndpointPool(o.endpoints ?? [{ model: o.model }], {
      clock: this.clock,
      defaults: { maxConcurrency: o.maxConcurrency ?? 4, requestsPerMinute: o.requestsPerMinute, tokensPerMinute: o.tokensPerMinute },
      dropAfterFailures: o.dropAfterFailures,
      dropAfterRetryAfterMs: o.dropAfterRetryAfterMs,
      emit: (e) => this.emit(e),
    });
    this.queue = new Dispatcher(this.pool, this.clock, this.stop.signal, {
      run: (unit, ep) => this.runCapped(unit, ep),
      cancel: (unit) => this.cancelUnit(unit),
      done: () => this.release(),
      taken: () => this.roomMade(),
    });
  }

  async start(batches: readonly PackedRequest<ChunkRef>[] | BatchFeed): Promise<ExecutionSummary> {
    const started = this.clock.now();
    // Every request in flight and every sleeping retry listens to the stop signal.
    setMaxListeners(0, this.stop.signal);
    const onAbort = () => this.stop.abort();
    if (this.o.signal?.aborted) this.stop.abort();
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    const fed = !Array.isArray(batches);
    const known = fed ? [] : (batches as readonly PackedRequest<ChunkRef>[]);
    const chunks = known.reduce((n, b) => n + b.chunks.length, 0);
    this.emit({ type: 'run-started', chunks, batches: known.length, concurrency: this.pool.concurrency(), ...(fed ? { planning: true as const } : {}) });
    try {
      if (!fed && known.length === 0) return this.finish(started);
      for (const b of known) this.enqueue(this.unitOf(b));
      if (fed) await this.drain(batches as BatchFeed);
      await this.done;
      return this.finish(started);
    } finally {
      this.o.signal?.removeEventListener('abort', onAbort);
    }
  }

  private unitOf(b: PackedRequest<ChunkRef>): Unit {
    return { batchId: b.id, items: b.chunks.map((ref) => ({ ref, attempts: 0 })) };
  }

  /**
   * Queues a feed's batches as they come, taking the next only when fewer units wait than there are
   * slots (so batches not yet sendable stay with the feed's owner, which can then wait: memory stays
   * bounded by the work in flight). The run cannot end while the feed is open.
   */
  private async drain(feed: BatchFeed): Promise<void> {
    this.outstanding++;
    try {
      for await (const b of feed) {
        this.enqueue(this.unitOf(b));
        if (!this.hasRoom()) await new Promise<void>((resolve) => (this.room = resolve));
      }
    } catch {
      // The feed's owner knows why it stopped and says so; what it gave still runs to its end.
    } finally {
      this.release();
    }
  }

  /** Fewer units wait than the live endpoints have slots (always after a stop: queued units are canceled at once). */
  private hasRoom(): boolean {
    return this.stop.signal.aborted || this.queue.length < Math.max(1, this.pool.concurrency());
  }

  private roomMade(): void {
    if (!this.room || !this.hasRoom()) return;
    const resolve = this.room;
    this.room = undefined;
    resolve();
  }

  private finish(started: number): ExecutionSummary {
    this.summary.durationMs = this.clock.now() - started;
    if (this.pool.several) this.summary.endpoints = this.pool.summaries();
    if (this.spend) this.summary.budget = this.spend.summary();
    this.emit({ type: 'run-finished', summary: { ...this.summary } });
    return this.summary;
  }

  private emit(event: RunEvent): void {
    try {
      this.o.onEvent?.(event);
    } catch {
      // A progress listener's bug must not lose chunks.
    }
  }

  /** Queues a unit for the next endpoint with a free slot. */
  private enqueue(unit: Unit): void {
    this.outstanding++;
    this.queue.push(unit);
  }

  /** Puts a unit back at the head of the queue, for another endpoint (its own was paused or dropped). */
  private requeue(unit: Unit): void {
    this.outstanding++;
    this.queue.unshift(unit);
  }

  /** Queues a unit after `delayMs`, outside any concurrency slot. */
  private enqueueLater(unit: Unit, delayMs: number): void {
    this.outstanding++;
    this.clock.sleep(delayMs, this.stop.signal).then(
      () => this.enqueue(unit),
      () => this.cancelUnit(unit),
    ).finally(() => this.release());
  }

  private release(): void {
    if (--this.outstanding === 0) {
      this.queue.close();
      this.finished();
    }
  }

  private overhead(count: number, tokenizer = this.o.tokenizer): number {
    let v = this.overheadByCount.get(count);
    if (v === undefined) {
      v = this.o.framing ? this.o.framing.overhead(count) : requestOverhead(this.o.prompt, tokenizer, count, this.o.output);
      // With `measure`, `measuredUnitCost` fills this first: no measuring pass's count is kept here.
      this.overheadByCount.set(count, v);
    }
    return v;
  }

  /** A unit's tokens as sent: the request's overhead and each chunk with its wrapper. */
  private unitCost(unit: Unit, tokenizer: Tokenizer): number {
    return this.overhead(unit.items.length, tokenizer) + unit.items.reduce((n, i) => n + chunkCost(i.ref, tokenizer), 0);
  }

  /** `unitCost` where `measure` says (the overhead measured once per chunk count). */
  private async measuredUnitCost(unit: Unit, measure: NonNullable<ExecutorOptions['measure']>): Promise<number> {
    const count = unit.items.length;
    if (!this.overheadByCount.has(count) && !this.o.framing) {
      this.overheadByCount.set(count, await measure((t) => requestOverhead(this.o.prompt, t, count, this.o.output)));
    }
    return measure((t) => this.unitCost(unit, t));
  }

  /** The tokens of a text (a reply without usage), where `measure` says. */
  private countTokens(text: string): number | Promise<number> {
    return this.o.measure ? this.o.measure((t) => t.count(text)) : this.o.tokenizer.count(text);
  }

  private async textOf(item: Item): Promise<Chunk> {
    if (item.text !== undefined) return { ...item.ref, text: item.text };
    const ref = item.ref as Partial<Chunk>;
    if (typeof ref.text === 'string') return item.ref as Chunk;
    const text = await (this.o.loadText ?? (() => Promise.reject(new Error('no text loader'))))(item.ref);
    return { ...item.ref, text };
  }

  private async runUnit(unit: Unit, ep: EndpointState): Promise<void> {
    if (this.stop.signal.aborted) return this.cancelUnit(unit);
    // Never park a unit behind a paused or dropped endpoint while another one could take it.
    if (ep.dropped || (this.pool.live() > 1 && ep.gate.waitMs(this.clock.now()) > 0)) return this.requeue(unit);
    let chunks: Chunk[];
    try {
      chunks = await Promise.all(unit.items.map((i) => this.textOf(i)));
    } catch (e) {
      // The file went away or changed under us: those chunks fail, the run goes on.
      await this.failUnit(unit, SourceChangedError.is(e) ? describeError(e) : { kind: 'source-changed', message: `Could not read the chunk's file: ${describeError(e).message}` }, 0, 0);
      return;
    }
    const tokens = this.o.measure ? await this.measuredUnitCost(unit, this.o.measure) : this.unitCost(unit, this.o.tokenizer);
    const window = ep.model.contextWindow;
    if (window && tokens > window - (ep.model.maxOutputTokens ?? 0)) {
      return this.onOverflow(unit, new ContextOverflowError(`The request needs ${tokens} tokens; the model's window is ${window}.`));
    }
    if (this.spend) {
      const allowed = await this.reserveSpend(unit, ep, tokens);
      if (allowed !== true) return this.cancelUnit(unit, allowed === 'budget');
    }
    try {
      await ep.gate.acquire(tokens, this.stop.signal);
    } catch {
      return this.cancelUnit(unit);
    }
    if (this.stop.signal.aborted) return this.cancelUnit(unit);
    if (ep.dropped) return this.requeue(unit);
    const endpoint = this.pool.several ? { endpoint: ep.id } : undefined;

    for (const i of unit.items) i.attempts++;
    const chunkIds = unit.items.map((i) => i.ref.id);
    this.emit({ type: 'batch-started', batchId: unit.batchId, chunkIds, tokens, attempt: Math.max(...unit.items.map((i) => i.attempts)), ...endpoint });
    this.summary.requests++;
    ep.stats.requests++;
    // One controller per request, aborted by the run's stop or by the timeout (cheaper than
    // AbortSignal.any + AbortSignal.timeout, which showed in the client CPU per request).
    const request = new AbortController();
    let timedOut = false;
    const onStop = () => request.abort(new CanceledError());
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort(new DOMException('The request timed out.', 'TimeoutError'));
    }, this.timeoutMs);
    const sent = this.clock.now();
    const firstToken: { ms?: number } = {};
    let response: ChatResponse;
    const mode = this.modeFor(ep);
    try {
      const request_ = this.requestFor(unit, chunks, ep, mode, tokens);
      response = await ep.model.complete(request_, { signal: request.signal, ...this.streaming(unit.batchId, chunkIds, sent, firstToken) });
    } catch (raw) {
      const latencyMs = this.clock.now() - sent;
      if (this.stop.signal.aborted) {
        this.emit({ type: 'batch-finished', batchId: unit.batchId, chunkIds, ok: false, tokens, inputTokens: 0, outputTokens: 0, latencyMs, error: { kind: 'canceled', message: 'Canceled' }, ...endpoint });
        return this.cancelUnit(unit);
      }
      const error = timedOut && !BatchPromptError.isAny(raw) ? new TimeoutError(`No reply within ${Math.round(this.timeoutMs / 1000)} s.`) : raw;
      this.emit({ type: 'batch-finished', batchId: unit.batchId, chunkIds, ok: false, tokens, inputTokens: 0, outputTokens: 0, latencyMs, error: describeError(error), ...endpoint });
      if (mode === 'structured' && StructuredModeRefusedError.is(error)) return this.fallBackToTagged(unit, ep, error);
      return this.onError(unit, error, latencyMs, ep);
    } finally {
      clearTimeout(timer);
      this.stop.signal.removeEventListener('abort', onStop);
    }
    const latencyMs = this.clock.now() - sent;
    if (response.rateLimit) ep.gate.observe(response.rateLimit);
    ep.concurrency.onSuccess();
    const inputTokens = response.usage?.inputTokens ?? 0;
    const outputTokens = response.usage?.outputTokens ?? 0;
    // A reply without usage is charged its counted input and the tokens of its text.
    const counted = response.usage ? undefined : this.countTokens(response.text);
    this.settleSpend(unit, response.usage ?? { inputTokens: tokens, outputTokens: typeof counted === 'number' ? counted : await counted! });
    ep.onReply(latencyMs, inputTokens, outputTokens);
    this.summary.inputTokens += inputTokens;
    this.summary.outputTokens += outputTokens;
    const ttft = firstToken.ms !== undefined ? { firstTokenMs: firstToken.ms } : undefined;
    this.emit({ type: 'batch-finished', batchId: unit.batchId, chunkIds, ok: true, tokens, inputTokens, outputTokens, latencyMs, ...ttft, ...endpoint });
    if (this.validator) return this.onStructuredReply(unit, response, mode, { latencyMs, inputTokens, outputTokens, ttft, endpoint });

    // Edit runs (#15): a rewrite counts only when its result block is closed; one cut at the output limit is split.
    const edit = this.o.output?.kind === 'edit';
    const truncated = response.finishReason === 'length';
    const parsed = parseReply(response.text, chunkIds, { truncated, closedOnly: edit });
    if (parsed.unexpected.length) {
      this.emit({ type: 'reply-warning', batchId: unit.batchId, message: `The reply had results for ids that were not asked for: ${parsed.unexpected.join(', ')}` });
    }
    const usageOf = this.usageShares(unit, inputTokens, outputTokens);
    const retryAlone: Item[] = [];
    for (const [k, item] of unit.items.entries()) {
      const output = parsed.results.get(item.ref.id);
      if (output !== undefined) {
        const checked = edit ? checkEdit(editableOf(chunks[k]), output, lineEndingOf(chunks[k].text)) : { output };
        await this.settle(item, { status: 'succeeded', ...checked, batchId: unit.batchId, latencyMs, ...usageOf(item), ...ttft, ...endpoint });
      } else if (edit && truncated && unit.items.length === 1) {
        return this.onOverflow(unit, new TruncatedError('The rewrite was cut off by the output limit.'));
      } else if (!(await this.missingFromReply(item, unit, response, { latencyMs, ...usageOf(item), ...endpoint }))) {
        carry(item, usageOf(item));
        retryAlone.push(item);
      }
    }
    this.retryAlone(unit, retryAlone, 'bad-reply');
  }

  /** Each item's share of a request's reported usage, by its tokens. */
  private usageShares(unit: Unit, inputTokens: number, outputTokens: number): (item: Item) => { inputTokens: number; outputTokens: number } {
    const totalCost = unit.items.reduce((n, i) => n + i.ref.tokens, 0) || 1;
    return (item) => {
      const share = item.ref.tokens / totalCost;
      return { inputTokens: Math.round(inputTokens * share), outputTokens: Math.round(outputTokens * share) };
    };
  }

  /**
   * A chunk the reply has no (complete) answer for: failed `bad-reply` once its retries are spent
   * (returns true), else left to the caller to send again alone (returns false).
   */
  private async missingFromReply(item: Item, unit: Unit, response: ChatResponse, base: { latencyMs: number; inputTokens: number; outputTokens: number; endpoint?: string }): Promise<boolean> {
    if (item.attempts <= this.maxRetries) return false;
    const why = response.finishReason === 'length' ? 'the reply was cut off by the output limit' : 'the reply has no result for it';
    await this.settle(item, { status: 'failed', error: { kind: 'bad-reply', message: `No usable result after ${item.attempts} attempts: ${why}.` }, batchId: unit.batchId, ...base });
    return true;
  }

  /** Sends items of a reply again, each on its own (a chunk missing from a packed reply, a repair). */
  private retryAlone(unit: Unit, items: readonly Item[], reason: ErrorKind): void {
    for (const item of items) {
      const batchId = unit.items.length > 1 ? `${unit.batchId}/${item.ref.id}` : unit.batchId;
      // A repair goes at once; a lone chunk missing from its own reply backs off as any retry does.
      const delayMs = unit.items.length > 1 || reason === 'invalid-output' ? 0 : backoffDelay(item.attempts, 0, this.random);
      this.emit({ type: 'retry-scheduled', batchId, chunkIds: [item.ref.id], delayMs, reason, attempt: item.attempts + 1 });
      this.enqueueLater({ batchId, items: [item] }, delayMs);
    }
  }

  /** How this endpoint gets a structured run's answer: its model's structured mode unless it refused it. */
  private modeFor(ep: EndpointState): AnswerMode {
    return this.validator && ep.model.structuredOutput && !this.taggedOnly.has(ep) ? 'structured' : 'tagged';
  }

  /** The request for a unit: the protocol's messages (a repair's when the unit is one), with the answer schema in structured mode. */
  private requestFor(unit: Unit, chunks: readonly Chunk[], ep: EndpointState, mode: AnswerMode, tokens: number): ChatRequest {
    const output = this.o.output;
    const repair = unit.items.length === 1 ? unit.items[0].repair : undefined;
    const messages = this.o.framing
      ? this.o.framing.messages(chunks, ep.model.supportsSystemMessage, mode, repair && output ? repair : undefined)
      : repair && output
      ? buildRepairMessages(this.o.prompt, chunks[0], ep.model.supportsSystemMessage, output, mode, repair)
      : buildMessages(this.o.prompt, chunks, ep.model.supportsSystemMessage, output, mode);
    // A repair carries the invalid answer too: not what was counted.
    const counted = repair && output ? {} : { inputTokens: tokens };
    return { messages, maxOutputTokens: this.maxOutputOf(ep), ...counted, ...(mode === 'structured' ? structuredRequest(output, chunks) : {}) };
  }

  /**
   * The endpoint refused the structured-output mode itself: the tagged protocol from now on for it (in
   * this run), and the unit goes again at once, its attempt not charged (the chunks did nothing wrong).
   */
  private fallBackToTagged(unit: Unit, ep: EndpointState, error: unknown): void {
    if (!this.taggedOnly.has(ep)) {
      this.taggedOnly.add(ep);
      this.emit({ type: 'reply-warning', batchId: unit.batchId, message: `${ep.id} refused structured output (${describeError(error).message}); it gets the tagged protocol for the rest of this run.` });
    }
    for (const i of unit.items) i.attempts = Math.max(0, i.attempts - 1);
    this.requeue(unit);
    this.queue.pump();
  }

  /**
   * A structured run's reply: every valid value succeeds at once (never sent again), an invalid one is
   * asked again alone once with its error quoted, then fails `invalid-output` with its raw answer kept;
   * a chunk with no answer goes again alone as in text runs.
   */
  private async onStructuredReply(
    unit: Unit,
    response: ChatResponse,
    mode: AnswerMode,
    r: { latencyMs: number; inputTokens: number; outputTokens: number; ttft?: { firstTokenMs: number }; endpoint?: { endpoint: string } },
  ): Promise<void> {
    const ids = unit.items.map((i) => i.ref.id);
    const ranges = new Map(unit.items.map((i) => [i.ref.id, { startLine: i.ref.startLine, endLine: i.ref.endLine }]));
    const reply = readStructuredReply(response.text, ids, mode, this.validator!, ranges, { truncated: response.finishReason === 'length' });
    if (reply.unexpected.length) {
      this.emit({ type: 'reply-warning', batchId: unit.batchId, message: `The reply had results for ids that were not asked for: ${reply.unexpected.join(', ')}` });
    }
    const usageOf = this.usageShares(unit, r.inputTokens, r.outputTokens);
    const again: Item[] = [];
    const repairs: Item[] = [];
    for (const item of unit.items) {
      const answer = reply.answers.get(item.ref.id);
      const base = { batchId: unit.batchId, latencyMs: r.latencyMs, ...usageOf(item), ...r.endpoint };
      if (answer?.ok) {
        const output = encodeEntries([{ startLine: item.ref.startLine, endLine: item.ref.endLine, value: answer.value }]);
        await this.settle(item, { status: 'succeeded', output, ...base, ...r.ttft });
      } else if (answer) {
        const shown = mode === 'tagged' ? `<result id="${item.ref.id}">\n${answer.raw}\n</result>` : answer.raw;
        if (!item.repaired) {
          carry(item, usageOf(item));
          item.repaired = true;
          item.repair = { answer: shown, error: answer.error };
          repairs.push(item);
        } else {
          const message = `The answer is not valid after a repair: ${answer.error}. Its raw reply is in invalid/${item.ref.id}.txt.`;
          await this.settle(item, { status: 'failed', error: { kind: 'invalid-output', message }, rawReply: answer.raw, ...base });
        }
      } else if (!(await this.missingFromReply(item, unit, response, base))) {
        carry(item, usageOf(item));
        again.push(item);
      }
    }
    this.retryAlone(unit, again, 'bad-reply');
    this.retryAlone(unit, repairs, 'invalid-output');
  }

  /**
   * The `onText` of one request when the caller streams (see `ExecutorOptions.onText`); notes in
   * `firstToken.ms` the time from `sent` to the first text (recorded, for estimates of time to first token).
   */
  private streaming(batchId: string, chunkIds: readonly string[], sent: number, firstToken: { ms?: number }): { onText?: (delta: string) => void } {
    const sink = this.o.onText;
    if (!sink) return {};
    return {
      onText: (delta) => {
        if (firstToken.ms === undefined && delta) firstToken.ms = this.clock.now() - sent;
        try {
          sink(batchId, chunkIds, delta);
        } catch {
          // A display bug must not break the request.
        }
      },
    };
  }

  private async onError(unit: Unit, error: unknown, latencyMs: number, ep: EndpointState): Promise<void> {
    const e = BatchPromptError.isAny(error) ? error : undefined;
    const kind: ErrorKind = e?.kind ?? 'transient';
    if (kind === 'canceled') return this.cancelUnit(unit);
    const failures = ep.onFailure(kind === 'transient' || kind === 'timeout', latencyMs);
    if (e?.fatal) {
      // Another endpoint can still serve: this one leaves the rotation and the unit is not charged for it.
      if (ep.dropped || this.pool.live() > 1) {
        this.pool.drop(ep, describeError(e));
        return this.sendElsewhere(unit);
      }
      if (!this.summary.fatal) this.summary.fatal = this.pool.several ? this.pool.noneLeft(ep, describeError(e)) : describeError(e);
      if (this.pool.several) this.pool.drop(ep, describeError(e));
      this.stop.abort();
      return this.cancelUnit(unit);
    }
    if (this.pool.shouldDropAfterTransient(failures) && !ep.dropped) {
      this.pool.drop(ep, { kind, message: `${failures} failure${failures === 1 ? '' : 's'} in a row, the last: ${describeError(error).message}` });
    }
    if (kind === 'context-overflow' || kind === 'truncated') return this.onOverflow(unit, e as BatchPromptError);
    if (kind === 'invalid-request') return this.failUnit(unit, describeError(error), latencyMs, 0);

    // rate-limited, transient, timeout, bad-reply: retry the same chunks as a new task, with backoff.
    const retryAfterMs = (e as { retryAfterMs?: number } | undefined)?.retryAfterMs;
    if (kind === 'rate-limited') {
      if (!ep.dropped && this.pool.shouldDropAfterRateLimit(retryAfterMs)) {
        this.pool.drop(ep, { kind, message: `asked to wait ${Math.round(retryAfterMs! / 1000)} s: ${describeError(error).message}` });
        return this.sendElsewhere(unit);
      }
      ep.concurrency.onRateLimited();
      ep.gate.pause(retryAfterMs ?? backoffDelay(1, 0, this.random), 'rate-limited');
    }
    const attempts = Math.max(...unit.items.map((i) => i.attempts));
    if (attempts > this.maxRetries) return this.failUnit(unit, describeError(error), latencyMs, attempts);
    // With other endpoints live, the retry need not wait for this endpoint's Retry-After: a paused endpoint pulls no work.
    const delayMs = backoffDelay(attempts, this.pool.live() > 1 ? 0 : retryAfterMs, this.random);
    this.emit({ type: 'retry-scheduled', batchId: unit.batchId, chunkIds: unit.items.map((i) => i.ref.id), delayMs, reason: kind, attempt: attempts + 1, ...(e?.status !== undefined ? { status: e.status } : {}) });
    this.enqueueLater(unit, delayMs);
  }

  /**
   * Sends a unit again on another endpoint at once, without charging the attempt its dropped endpoint spent.
   * Only for a fatal error (bad key, missing model...) or a Retry-After too long to wait: the endpoint, not
   * the chunk, was at fault. A transient failure (5xx, timeout, reset) is charged even when it is what drops
   * the endpoint or the endpoint was dropped while it was in flight: the chunk was sent and failed, so it
   * takes the ordinary retry path in `onError` and a chunk is never sent more than maxRetries + 1 times
   * for transient failures, whichever endpoints served it.
   */
  private sendElsewhere(unit: Unit): void {
    for (const i of unit.items) i.attempts = Math.max(0, i.attempts - 1);
    this.requeue(unit);
    this.queue.pump();
  }

  /** Too large for the model: halve the batch, or split its one chunk in two. Never resent unchanged. */
  private async onOverflow(unit: Unit, error: BatchPromptError): Promise<void> {
    if (unit.items.length > 1) {
      const mid = Math.ceil(unit.items.length / 2);
      const halves = [unit.items.slice(0, mid), unit.items.slice(mid)].map((items, i) => ({ batchId: `${unit.batchId}.${i + 1}`, items }));
      this.emit({ type: 'batch-split', batchId: unit.batchId, into: halves.map((h) => h.batchId), reason: error.kind });
      for (const h of halves) this.enqueue(h);
      return;
    }
    const item = unit.items[0];
    if (item.ref.tokens < MIN_SPLIT_TOKENS * 2) {
      return this.failUnit(unit, { kind: error.kind, message: `${error.message} Even ${item.ref.tokens} tokens do not fit: shorten the prompt or pick a model with a larger context window.` }, 0, item.attempts);
    }
    let parts: [Chunk, Chunk];
    try {
      const whole = await this.textOf(item);
      // An edit chunk is split in its editable part, at a line end, its contexts re-derived (a one-line part fails).
      const split = (t: Tokenizer): [Chunk, Chunk] => (this.o.output?.kind === 'edit' ? splitEditChunk(whole, t) : splitChunk(whole, t, { lineNumbers: this.o.output?.kind === 'findings' }));
      parts = await (this.o.measure ?? inThread(this.o.tokenizer))(split);
    } catch (e) {
      // An edit part of one line cannot be cut: it fails for the overflow itself, saying why.
      const why = this.o.output?.kind === 'edit' ? { kind: error.kind, message: `${error.message} ${describeError(e).message}.` } : describeError(e);
      return this.failUnit(unit, why, 0, item.attempts);
    }
    const group: SplitGroup = { item, partIds: parts.map((p) => p.id), outputs: [undefined, undefined], pending: 2, settled: false, inputTokens: 0, outputTokens: 0, notes: [] };
    const n = ++this.splitCounter;
    const units = parts.map((p, i) => ({ batchId: `${unit.batchId}~${n}.${i + 1}`, items: [{ ref: stripText(p), text: p.text, attempts: item.attempts, group }] }));
    this.emit({ type: 'batch-split', batchId: unit.batchId, into: units.map((u) => u.batchId), reason: error.kind });
    for (const u of units) this.enqueue(u);
  }

  private async failUnit(unit: Unit, error: { kind: ErrorKind; message: string }, latencyMs: number, attempts: number): Promise<void> {
    for (const item of unit.items) {
      await this.settle(item, { status: 'failed', error, batchId: unit.batchId, latencyMs, inputTokens: 0, outputTokens: 0, attempts: Math.max(attempts, item.attempts) });
    }
  }

  private async cancelUnit(unit: Unit, budget = false): Promise<void> {
    const error = budget
      ? { kind: BUDGET_KIND, message: 'Not sent: the spend cap was reached; resume the run with a higher cap to send it.' }
      : { kind: 'canceled' as const, message: this.summary.fatal ? `Canceled: ${this.summary.fatal.message}` : 'Canceled' };
    for (const item of unit.items) {
      await this.settle(item, { status: 'canceled', error, batchId: unit.batchId, latencyMs: 0, inputTokens: 0, outputTokens: 0 });
    }
  }

  /** The output limit a request is sent with: the endpoint's, or under a spend cap a finite one. */
  private maxOutputOf(ep: EndpointState): number | undefined {
    return ep.model.maxOutputTokens ?? (this.spend ? CAPPED_MAX_OUTPUT_TOKENS : undefined);
  }

  /**
   * Asks the spend cap for a unit about to be sent on `ep`: true once its worst case is reserved,
   * 'budget' when the cap is reached, 'canceled' when the run stopped while it waited for requests in flight.
   */
  private async reserveSpend(unit: Unit, ep: EndpointState, tokens: number): Promise<true | 'budget' | 'canceled'> {
    for (;;) {
      if (this.stop.signal.aborted) return 'canceled';
      const d = this.spend!.tryReserve(ep.id, tokens, this.maxOutputOf(ep)!);
      if (d.go) {
        this.reservations.get(unit)!.r = d.reservation;
        return true;
      }
      if (!d.wait) return 'budget';
      let onStop!: () => void;
      const stopped = new Promise<void>((resolve) => this.stop.signal.addEventListener('abort', (onStop = () => resolve()), { once: true }));
      await Promise.race([this.spend!.changed(), stopped]);
      this.stop.signal.removeEventListener('abort', onStop);
    }
  }

  /** A unit's request got a reply: its measured usage is spent. */
  private settleSpend(unit: Unit, usage: { inputTokens: number; outputTokens: number }): void {
    const slot = this.reservations.get(unit);
    if (!slot?.r) return;
    this.spend!.settle(slot.r, usage);
    slot.r = undefined;
  }

  /** Runs a unit; under a spend cap, a reservation it made and did not spend (no reply: failed, canceled, handed back) is dropped. */
  private async runCapped(unit: Unit, ep: EndpointState): Promise<void> {
    if (!this.spend) return this.runUnit(unit, ep);
    const slot: { r?: Reservation } = {};
    this.reservations.set(unit, slot);
    try {
      await this.runUnit(unit, ep);
    } finally {
      if (this.reservations.get(unit) === slot) this.reservations.delete(unit);
      if (slot.r) this.spend.settle(slot.r);
    }
  }


  /** Records an item's end: a whole chunk's outcome goes out; a part's goes to its split group. */
  private async settle(item: Item, o: Omit<ChunkOutcome, 'chunk' | 'attempts'> & { attempts?: number }): Promise<void> {
    const group = item.group;
    if (item.carried) {
      // What earlier requests spent on it is recorded with its outcome: run.jsonl sums to the run's spend.
      o = { ...o, inputTokens: o.inputTokens + item.carried.inputTokens, outputTokens: o.outputTokens + item.carried.outputTokens };
      item.carried = undefined;
    }
    if (!group) {
      const outcome: ChunkOutcome = { chunk: item.ref, attempts: o.attempts ?? item.attempts, ...o };
      this.summary[outcome.status]++;
      this.emit({ type: 'chunk-finished', outcome });
      await this.o.onOutcome?.(outcome);
      return;
    }
    group.inputTokens += o.inputTokens;
    group.outputTokens += o.outputTokens;
    group.item.attempts = Math.max(group.item.attempts, o.attempts ?? item.attempts);
    if (group.settled) return;
    if (o.status !== 'succeeded') {
      group.settled = true;
      return this.settle(group.item, { ...o, inputTokens: group.inputTokens, outputTokens: group.outputTokens });
    }
    group.outputs[group.partIds.indexOf(item.ref.id)] = o.output;
    if (o.note !== undefined) group.notes.push(`part ${item.ref.id}: ${o.note}`);
    if (--group.pending === 0) {
      group.settled = true;
      const outputs = group.outputs as string[];
      const edit = this.o.output?.kind === 'edit';
      const output = this.validator ? encodeEntries(outputs.flatMap((o) => decodeEntries(o))) : edit ? outputs.join('') : joinOutputs(outputs);
      const { flags: _f, note: _n, ...rest } = o;
      const flagged = group.notes.length ? { flags: ['suspicious'], note: group.notes.join('; ') } : {};
      return this.settle(group.item, { ...rest, output, ...flagged, inputTokens: group.inputTokens, outputTokens: group.outputTokens });
    }
  }
}

/** Adds a request's share of usage to what an item carries until its outcome is recorded. */
function carry(item: Item, usage: { inputTokens: number; outputTokens: number }): void {
  item.carried = { inputTokens: (item.carried?.inputTokens ?? 0) + usage.inputTokens, outputTokens: (item.carried?.outputTokens ?? 0) + usage.outputTokens };
}

function stripText(c: Chunk): ChunkRef {
  const { text: _text, ...ref } = c;
  return ref;
}

