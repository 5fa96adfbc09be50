/**
 * Token counts made off the caller's thread (#17). Loading an encoding's rank tables blocks a thread
 * for 300–900 ms: the editor's extension host, which every extension shares, must never do it. There,
 * what packing and estimating count (the prompt, the instructions, each chunk's wrapper) is counted by
 * the planning workers and answered here from those counts.
 */
import type { EncodingName, Tokenizer } from './tokenizer';

/**
 * Runs a computation that counts tokens, with its counts made where the caller says: in this thread
 * (`inThread`), or elsewhere (`countedOffThread`, the editor's `Measure`). The computation must be a
 * pure function of the counts (it may run more than once).
 */
export type Counted = <T>(compute: (tokenizer: Tokenizer) => T) => Promise<T>;

/** `Counted` in this thread, by `tokenizer`. */
export function inThread(tokenizer: Tokenizer): Counted {
  return (compute) => Promise.resolve(compute(tokenizer));
}

/** Counts `texts` elsewhere (a worker thread): `ChunkPool.count`. */
export type CountTexts = (texts: readonly string[], encoding: EncodingName) => Promise<number[]>;

/**
 * A tokenizer that answers from counts made elsewhere; a text not counted goes to `fallback` (which
 * may load its encoding in this thread: correct, only slower), else throws.
 */
export class PrecountedTokenizer implements Tokenizer {
  private readonly counts = new Map<string, number>();
  /** Texts counted by `fallback` (0 when every count came from elsewhere). */
  fellBack = 0;

  constructor(readonly encoding: EncodingName, private readonly fallback?: Tokenizer) {}

  set(text: string, tokens: number): void {
    this.counts.set(text, tokens);
  }

  delete(text: string): void {
    this.counts.delete(text);
  }

  has(text: string): boolean {
    return this.counts.has(text);
  }

  count(text: string): number {
    const n = this.counts.get(text);
    if (n !== undefined) return n;
    if (!this.fallback) throw new Error(`a text was not counted off the thread: ${JSON.stringify(text.slice(0, 60))}`);
    this.fellBack++;
    return this.fallback.count(text);
  }
}

/**
 * `compute(tokenizer)`, with every count its tokenizer answers made by `countTexts` instead of this
 * thread. A first pass notes the texts `compute` counts (answering 0); they are counted elsewhere and
 * `compute` runs again with the counts. Passes repeat while one asks for a text not yet counted (what is
 * counted may depend on counts), at most `maxPasses` times; then the last texts go to `fallback`.
 * `compute` must be a pure function of the counts (it runs more than once); what it throws in a pass
 * that lacked counts is dropped (a split that found no cut with placeholder counts), not what it throws
 * with them all.
 */
export async function countedOffThread<T>(encoding: EncodingName, countTexts: CountTexts, compute: (tokenizer: Tokenizer) => T, options: { fallback?: Tokenizer; maxPasses?: number; /** Counts kept across calls (and filled by this one). */ known?: PrecountedTokenizer } = {}): Promise<T> {
  const known = options.known ?? new PrecountedTokenizer(encoding, options.fallback);
  const maxPasses = options.maxPasses ?? 4;
  for (let pass = 1; ; pass++) {
    const missing = new Set<string>();
    const recording: Tokenizer = {
      encoding,
      count: (text) => {
        if (known.has(text)) return known.count(text);
        missing.add(text);
        return 0;
      },
    };
    const decides = () => missing.size === 0 || pass >= maxPasses;
    try {
      const result = compute(pass >= maxPasses ? known : recording);
      if (decides()) return result;
    } catch (e) {
      // A pass that was answered 0 for some counts may fail where the real counts would not: only a pass
      // with every count real (or the last) decides.
      if (decides()) throw e;
    }
    const texts = [...missing];
    const counts = await countTexts(texts, encoding);
    texts.forEach((t, i) => known.set(t, counts[i]));
  }
}
