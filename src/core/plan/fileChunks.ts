/**
 * A file's chunking as plain numbers, independent of its path and its place in the run: what the
 * planning worker threads return and what the plan cache keeps. `refsOf` gives the chunks back with
 * their ids and path; the result is the same as `chunkFile`/`chunkFileForEdit`'s without the texts.
 */
import { chunkFile } from './chunker';
import { chunkFileForEdit } from './editChunker';
import { getTokenizer, type EncodingName, type Tokenizer } from './tokenizer';
import type { Chunk, ChunkRef, FileChunking } from './types';

/** Everything a file's chunks depend on besides its text. */
export interface ChunkParams {
  readonly encoding: EncodingName;
  readonly chunkTokens: number;
  readonly overlapTokens: number;
  /** The findings kind: line-number prefixes count against the budget. */
  readonly lineNumbers: boolean;
  /** The edit kind's chunker (#15). */
  readonly edit: boolean;
  /** The run's output kind (part of the plan cache's key). */
  readonly kind: string;
}

/** Numbers per chunk in `FileChunking.spans`: start, end, startLine, endLine, overlap, trailing, tokens. */
export const SPAN_FIELDS = 7;

export type { FileChunking };

/** Chunks `text` in this thread (the worker threads call this too). */
export function chunkText(text: string, params: ChunkParams, tokenizer: Tokenizer = getTokenizer(params.encoding)): FileChunking {
  const file = { path: '', text };
  const options = { chunkTokens: params.chunkTokens, overlapTokens: params.overlapTokens, ...(params.lineNumbers ? { lineNumbers: true } : {}) };
  let chunks: Chunk[];
  if (params.edit) {
    const edit = chunkFileForEdit(file, 0, tokenizer, options);
    if (edit.skipped !== undefined) return { skipped: edit.skipped };
    chunks = edit.chunks;
  } else {
    chunks = chunkFile(file, 0, tokenizer, options);
  }
  const spans: number[] = [];
  for (const c of chunks) spans.push(c.start, c.end, c.startLine, c.endLine, c.overlap, c.trailing ?? -1, c.tokens);
  return { spans };
}

/** The chunks of `spans` for the file at `path`, `fileIndex`-th of the run (ids `${fileIndex + 1}.${index + 1}`). */
export function refsOf(spans: readonly number[], path: string, fileIndex: number): ChunkRef[] {
  const refs: ChunkRef[] = [];
  for (let i = 0, index = 0; i < spans.length; i += SPAN_FIELDS, index++) {
    const trailing = spans[i + 5];
    refs.push({
      id: `${fileIndex + 1}.${index + 1}`,
      path,
      index,
      start: spans[i],
      end: spans[i + 1],
      startLine: spans[i + 2],
      endLine: spans[i + 3],
      overlap: spans[i + 4],
      ...(trailing >= 0 ? { trailing } : {}),
      tokens: spans[i + 6],
    });
  }
  return refs;
}
