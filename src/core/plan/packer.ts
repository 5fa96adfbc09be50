import { CHUNK_CLOSER, chunkOpener, instructions } from './protocol';
import type { Tokenizer } from './tokenizer';
import type { PackedRequest, ChunkRef } from './types';
import { isStructured, itemSchemaOf, type OutputSpec } from '../output/spec';

export interface PackOptions {
  /** Most chunks in one request (default 4). */
  chunksPerBatch: number;
  /** Most input tokens in one request, prompt and wrapping included (default 32,768). */
  maxBatchTokens: number;
  /** The model's context window, when known: lowers the budget. */
  contextWindow?: number;
  /** Tokens left for the reply inside the context window. */
  maxOutputTokens?: number;
  /** The run's output kind (#14): its instructions, and in structured kinds the schema, are in every request. */
  output?: OutputSpec;
}

export const DEFAULT_PACK_OPTIONS: PackOptions = { chunksPerBatch: 4, maxBatchTokens: 32768 };

/** Tokens a chat message costs beyond its content (role and framing), and slack for token seams. */
const MESSAGE_FRAMING = 8;
const SEAM_MARGIN = 2;

/** Input tokens one request may carry: `maxBatchTokens`, lowered by a known context window minus the reply. */
export function batchBudget(options: PackOptions): number {
  let budget = options.maxBatchTokens;
  if (options.contextWindow) {
    budget = Math.min(budget, options.contextWindow - (options.maxOutputTokens ?? 0));
  }
  return Math.max(1, budget);
}

/**
 * Tokens of everything in a request that is not a chunk: the prompt, the instructions, the framing.
 * In a structured kind the instructions quote the item schema, and a provider's structured mode sends
 * the batch's answer schema too: that copy is counted as well (it is on the wire in that mode).
 */
export function requestOverhead(prompt: string, tokenizer: Tokenizer, chunksPerBatch: number, output?: OutputSpec): number {
  const schemaCopy = isStructured(output) ? tokenizer.count(JSON.stringify(itemSchemaOf(output!))) + SCHEMA_WRAPPING : 0;
  const editTags = output?.kind === 'edit' ? chunksPerBatch * EDIT_WRAPPING : 0;
  return tokenizer.count(`${prompt.trim()}\n\n${instructions(chunksPerBatch, output)}`) + schemaCopy + editTags + 2 * MESSAGE_FRAMING + SEAM_MARGIN;
}

/** An edit chunk's `<context lines>`/`<edit lines>` tags around its text (#15), at most. */
const EDIT_WRAPPING = 40;

/** The batch answer schema's own words around the item schema (`results`, `id`, its enum of ids). */
const SCHEMA_WRAPPING = 80;

/** Tokens one chunk costs inside a request: its text plus its wrapper. */
export function chunkCost(chunk: ChunkRef, tokenizer: Tokenizer): number {
  return chunk.tokens + tokenizer.count(chunkOpener(chunk)) + tokenizer.count(CHUNK_CLOSER) + SEAM_MARGIN;
}

/**
 * Packs chunks, in the order given, into batches of at most `chunksPerBatch` chunks and `budget`
 * tokens (overhead included). A chunk too large for any batch still gets a batch of its own: the
 * executor splits it when the model refuses it. Feed chunks with `add`, then `flush` at the end.
 */
export class BatchPacker<C extends ChunkRef = ChunkRef> {
  private current: C[] = [];
  private currentTokens = 0;
  private nextId = 1;
  private readonly budget: number;
  private readonly overhead: number;

  constructor(
    prompt: string,
    private readonly tokenizer: Tokenizer,
    private readonly options: PackOptions,
  ) {
    this.budget = batchBudget(options);
    this.overhead = requestOverhead(prompt, tokenizer, options.chunksPerBatch, options.output);
  }

  /** Adds a chunk; returns the batch it closed, if adding it closed one. */
  add(chunk: C): PackedRequest<C> | undefined {
    const cost = chunkCost(chunk, this.tokenizer);
    let closed: PackedRequest<C> | undefined;
    const full = this.current.length >= this.options.chunksPerBatch;
    const tooBig = this.current.length > 0 && this.overhead + this.currentTokens + cost > this.budget;
    if (full || tooBig) closed = this.flush();
    this.current.push(chunk);
    this.currentTokens += cost;
    return closed;
  }

  /** Closes the batch being filled, if any. */
  flush(): PackedRequest<C> | undefined {
    if (this.current.length === 0) return undefined;
    const batch: PackedRequest<C> = { id: `b${this.nextId++}`, chunks: this.current, tokens: this.overhead + this.currentTokens };
    this.current = [];
    this.currentTokens = 0;
    return batch;
  }
}

/** Packs all chunks at once (see `BatchPacker`). */
export function packRequests<C extends ChunkRef>(chunks: Iterable<C>, prompt: string, tokenizer: Tokenizer, options: PackOptions): PackedRequest<C>[] {
  const packer = new BatchPacker<C>(prompt, tokenizer, options);
  const batches: PackedRequest<C>[] = [];
  for (const c of chunks) {
    const closed = packer.add(c);
    if (closed) batches.push(closed);
  }
  const last = packer.flush();
  if (last) batches.push(last);
  return batches;
}
