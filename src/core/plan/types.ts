/** Shared shapes of the engine. Plain data only: everything here is JSON-serialisable. */

/** A file the user selected, already read as text. */
export interface SourceFile {
  /** Path relative to the run's root, with forward slashes. Used in prompts and outputs. */
  readonly path: string;
  readonly text: string;
  /**
   * A large file's text in the pieces it was decoded in (`text` is their concatenation, left as such):
   * the planner hashes and posts them piece by piece, so the thread never copies the whole text at once.
   */
  readonly pieces?: readonly string[];
  /**
   * `hashText(text)`, when the reader had it already: the sha256 of the file's bytes, which are the
   * text's UTF-8 (collectFiles decodes valid UTF-8 only, a BOM kept), so the planner need not hash again.
   */
  readonly hash?: string;
}

/**
 * What a file was when it was read (`signatureOf`): size, modification and change times (ms), inode
 * and device. A plan index knows a file by it without reading it (#17).
 */
export type FileSignature = [size: number, mtimeMs: number, ctimeMs: number, ino: number, dev: number];

/**
 * A file planned without being read (#17): a plan index knew it by its signature, and the plan cache
 * held its chunking. Its text is read when its chunks are sent, and checked against `hash` then.
 */
export interface UnreadFile {
  /** As `SourceFile.path`. */
  readonly path: string;
  /** The sha256 of its text when it was last read. */
  readonly hash: string;
  /** Its text's length in UTF-16 units. */
  readonly chars: number;
  /** Its chunking, from the plan cache. */
  readonly chunking: FileChunking;
}

/**
 * A file's chunks as plain numbers (fileChunks.ts): `spans` holds `SPAN_FIELDS` numbers per chunk
 * (`trailing` is -1 where the chunker gives none), or `skipped` says why the file cannot be chunked
 * (an edit run's over-long line).
 */
export type FileChunking = { spans: number[]; skipped?: undefined } | { spans?: undefined; skipped: string };

/** What a planner is given: a file read, or one known unread. */
export type PlanInput = SourceFile | UnreadFile;

/** Where a chunk lies in its file, without its text (plans keep only these, so memory stays small). */
export interface ChunkRef {
  /** Unique within a run: `${fileIndex}:${index}` style ids are produced by the planner. */
  readonly id: string;
  readonly path: string;
  /** Position of this chunk within its file (0-based). */
  readonly index: number;
  /** UTF-16 offsets `[start, end)` into the file text. */
  readonly start: number;
  readonly end: number;
  /** 1-based inclusive line range. */
  readonly startLine: number;
  readonly endLine: number;
  /** Characters at the start of this chunk that repeat the end of the previous chunk (0 for the first). */
  readonly overlap: number;
  /**
   * Edit runs (#15): characters at the end of this chunk that are read-only context (the next lines);
   * the editable part is `text.slice(overlap, text.length - trailing)`. Absent (0) in other kinds.
   */
  readonly trailing?: number;
  /** Token count of the chunk's text by the run's tokenizer. */
  readonly tokens: number;
}

/** One token-bounded piece of a file. `text === file.text.slice(start, end)`. */
export interface Chunk extends ChunkRef {
  readonly text: string;
}

/** Several chunks packed into one model request (the packer's unit; a provider batch *job* is another thing, see core/jobs). Plans hold `PackedRequest<ChunkRef>`; sending needs `PackedRequest<Chunk>`. */
export interface PackedRequest<C extends ChunkRef = ChunkRef> {
  readonly id: string;
  readonly chunks: readonly C[];
  /** Tokens of the whole request: prompt, protocol wrapping and chunks. */
  readonly tokens: number;
}

export type ChunkStatus = 'succeeded' | 'failed' | 'canceled';

/** Token usage reported by a provider for one request. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
}
