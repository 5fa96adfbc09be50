import type { FileChunkSource } from '../plan/plan';
import { resultKey, type ResultCache, type ResultKeyParts } from './resultCache';
import type { ChunkRef } from '../plan/types';
import { outputKeyOf, type OutputSpec } from '../output/spec';

/** What a chunk's cache key depends on besides its path and text: the run's prompt, model and reply limit. */
export interface ChunkKeyBase {
  prompt: string;
  /** The model as the run folder records it (`RunMeta['model']`). */
  model: ResultKeyParts['model'];
  /** The model's reply limit (`ChatModel.maxOutputTokens`). */
  maxOutputTokens?: number;
  /** The run's output kind (#14); text when absent. */
  output?: OutputSpec;
}

/** The cache key of one chunk's result: the one recipe `runPlan` stores under and an estimate looks up. */
export function chunkResultKey(base: ChunkKeyBase, chunk: Pick<ChunkRef, 'path' | 'startLine'>, text: string): string {
  const output = outputKeyOf(base.output);
  return resultKey({ prompt: base.prompt, model: base.model, generation: { maxOutputTokens: base.maxOutputTokens }, path: chunk.path, text, ...(output ? { output: { ...output, startLine: chunk.startLine } } : {}) });
}

/**
 * The ids of the chunks whose result is already in the cache, looked up as a run would (each chunk's
 * text read from its file, keyed by `chunkResultKey`) but without refreshing the entries. A chunk whose
 * file cannot be read is not cached (the run would report it).
 */
export async function findCachedChunks(chunks: Iterable<ChunkRef>, source: FileChunkSource, cache: ResultCache, base: ChunkKeyBase, signal?: AbortSignal): Promise<Set<string>> {
  const hits = new Set<string>();
  for (const c of chunks) {
    if (signal?.aborted) break;
    let text: string;
    try {
      text = await source.text(c);
    } catch {
      continue;
    }
    if ((await cache.peek(chunkResultKey(base, c, text))) !== undefined) hits.add(c.id);
  }
  return hits;
}
