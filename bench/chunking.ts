// Chunking benchmark: chunkFile's throughput beside a bare whole-file encode (gpt-tokenizer, the shipped
// library, and js-tiktoken, the baseline), count agreement, and worst cases. Figures only, no assertions.
import * as path from 'path';
import { Tiktoken } from 'js-tiktoken/lite';
import o200kRanks from 'js-tiktoken/ranks/o200k_base';
import cl100kRanks from 'js-tiktoken/ranks/cl100k_base';
import { chunkFile, DEFAULT_CHUNK_OPTIONS } from '../src/core/plan/chunker';
import { createTokenizer, type EncodingName } from '../src/core/plan/tokenizer';
import type { SourceFile } from '../src/core/plan/types';
import { longestPiece, pathologicalCorpus, realCorpus } from './corpus';

/** Timed runs per figure (after one warm-up run); the median is reported. */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Files with a longer pre-tokenizer piece are left out of the bare encodes (quadratic there). */
const BARE_PIECE_LIMIT = 4096;
/** Characters of a pathological file a bare encode gets (quadratic beyond). */
const BARE_PREFIX = 32 * 1024;
const MB = 2 ** 20;
const AS_TEXT = { disallowedSpecial: new Set<string>() };

interface GptTokenizerApi {
  encode(text: string, options: typeof AS_TEXT): number[];
  clearMergeCache(): void;
}

/**
 * The same module instance the tokenizer requires (so clearing its merge cache clears it for both),
 * loaded when the benchmark runs, not when it is imported.
 */
function gpt(encoding: EncodingName): GptTokenizerApi {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return encoding === 'o200k_base'
    ? require('gpt-tokenizer/encoding/o200k_base') as GptTokenizerApi
    : require('gpt-tokenizer/encoding/cl100k_base') as GptTokenizerApi;
  /* eslint-enable @typescript-eslint/no-require-imports */
}
const gptEncode = (encoding: EncodingName, text: string): number[] => gpt(encoding).encode(text, AS_TEXT);

/**
 * CPU time (user + system, ms) of `run`: on a shared machine wall time mostly measures the neighbours;
 * CPU time counts this process's work, its GC threads included.
 */
function cpuMs(run: () => void): number {
  const t0 = process.cpuUsage();
  run();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

interface Contender {
  run(files: readonly SourceFile[]): void;
  /** Untimed, before each timed run (e.g. emptying a cache so every run starts alike). */
  before?(): void;
}

/**
 * Each contender warmed up once (on every 8th file: enough for the JIT), then `RUNS` rounds in which
 * the contenders run back to back, so a busy machine slows them alike; median ms per contender and
 * median of the per-round time ratios of each contender to the first.
 */
function race(contenders: Contender[], files: readonly SourceFile[]): { ms: number[]; ratio: number[] } {
  const sample = files.filter((_, i) => i % 8 === 0);
  for (const c of contenders) c.run(sample);
  const rounds: number[][] = [];
  for (let r = 0; r < RUNS; r++) {
    rounds.push(contenders.map((c) => {
      c.before?.();
      return cpuMs(() => c.run(files));
    }));
  }
  return {
    ms: contenders.map((_, i) => median(rounds.map((round) => round[i]))),
    ratio: contenders.map((_, i) => median(rounds.map((round) => round[i] / round[0]))),
  };
}

function utf8Bytes(files: readonly SourceFile[]): number {
  return files.reduce((n, f) => n + Buffer.byteLength(f.text), 0);
}

/** Chunks every file with a fresh tokenizer (empty memo), like one run of the extension. */
function chunkAll(files: readonly SourceFile[], encoding: EncodingName): number {
  const tokenizer = createTokenizer(encoding);
  let chunks = 0;
  files.forEach((f, i) => {
    chunks += chunkFile(f, i, tokenizer, DEFAULT_CHUNK_OPTIONS).length;
  });
  return chunks;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ')).join('\n');
}

const fmt = (x: number, digits = 1): string => x.toFixed(digits);

/** Prints the chunking benchmark's tables. */
export async function runChunkingBench(): Promise<void> {
  const root = path.resolve(__dirname, '../..');
  const corpus = realCorpus(root);
  // Files a bare encode would take quadratic time on are left out of the comparison (none so far).
  const files = corpus.files.filter((f) => longestPiece(f.text) <= BARE_PIECE_LIMIT);
  const mb = utf8Bytes(files) / MB;
  console.log(`\n## Chunking (chunkTokens ${DEFAULT_CHUNK_OPTIONS.chunkTokens}, overlap ${DEFAULT_CHUNK_OPTIONS.overlapTokens}): CPU time, median of ${RUNS} rounds after a warm-up`);
  console.log(`corpus: ${files.length} files, ${fmt(mb)} MB of node_modules/{${corpus.roots.join(',')}}` +
    ` (${corpus.files.length - files.length} left out for a pre-tokenizer piece > ${BARE_PIECE_LIMIT} chars)`);
  console.log('cold: the run starts with gpt-tokenizer\'s merge cache empty (chunkFile: and a fresh tokenizer memo);' +
    ' warm: the encode right after a cold one, its cache filled by the same files\n');

  const tiktoken: Record<EncodingName, Tiktoken> = { o200k_base: new Tiktoken(o200kRanks), cl100k_base: new Tiktoken(cl100kRanks) };
  const speedRows = [[
    'encoding', 'chunkFile MB/s (cold)', 'gpt-tokenizer encode MB/s: cold', 'warm', 'js-tiktoken encode MB/s',
    'chunkFile / gpt encode: cold', 'warm', 'chunks',
  ]];
  const agreementRows = [['encoding', 'files gpt = tiktoken', 'tokens gpt', 'tokens tiktoken', 'files count() = bare', 'tokens count()']];
  let ordinaryMsPerMb = 0;
  let ordinaryBareMsPerMb = 0;
  for (const encoding of ['o200k_base', 'cl100k_base'] as const) {
    let chunks = 0;
    const gptCounts: number[] = [];
    const tikCounts: number[] = [];
    const cold = (): void => gpt(encoding).clearMergeCache();
    const encodeAll = (fs: readonly SourceFile[]): void => fs.forEach((f, i) => {
      gptCounts[i] = gptEncode(encoding, f.text).length;
    });
    const { ms, ratio } = race([
      { before: cold, run: (fs) => { chunks = chunkAll(fs, encoding); } },
      { before: cold, run: encodeAll },
      { run: encodeAll },
      { run: (fs) => fs.forEach((f, i) => { tikCounts[i] = tiktoken[encoding].encode(f.text, [], []).length; }) },
    ], files);
    if (encoding === 'o200k_base') {
      ordinaryMsPerMb = ms[0] / mb;
      ordinaryBareMsPerMb = ms[1] / mb;
    }
    const mbs = ms.map((t) => fmt(mb / (t / 1000)));
    speedRows.push([encoding, mbs[0], mbs[1], mbs[2], mbs[3], `${fmt(ratio[1], 2)}x`, `${fmt(ratio[2], 2)}x`, String(chunks)]);

    const tokenizer = createTokenizer(encoding);
    let same = 0;
    let segmentedSame = 0;
    let gptTotal = 0;
    let tikTotal = 0;
    let segmentedTotal = 0;
    files.forEach((f, i) => {
      const n = tokenizer.count(f.text);
      if (gptCounts[i] === tikCounts[i]) same++;
      if (n === gptCounts[i]) segmentedSame++;
      gptTotal += gptCounts[i];
      tikTotal += tikCounts[i];
      segmentedTotal += n;
    });
    const delta = segmentedTotal - gptTotal;
    agreementRows.push([
      encoding, `${same}/${files.length}`, String(gptTotal), String(tikTotal),
      `${segmentedSame}/${files.length}`, `${segmentedTotal} (${delta >= 0 ? '+' : ''}${delta}, ${fmt((100 * delta) / gptTotal, 4)}%)`,
    ]);
  }
  console.log(table(speedRows));
  console.log('(chunkFile / gpt encode: speed ratio, median of the per-round ratios; > 1 means chunking is faster than a bare encode)');
  console.log('\nCount agreement (whole files; count() is the segmented count the chunker uses)');
  console.log(table(agreementRows));

  // Worst cases: long runs without whitespace, beside ordinary code, per MB (all cold).
  const worstRows = [['o200k_base, cold', 'chunkFile ms/MB', 'x ordinary', 'chunks', 'bare gpt encode ms/MB', 'chunkFile / bare speed']];
  worstRows.push([
    `ordinary code (the corpus, ${fmt(mb)} MB)`, fmt(ordinaryMsPerMb), '1.00x', '', fmt(ordinaryBareMsPerMb),
    `${fmt(ordinaryBareMsPerMb / ordinaryMsPerMb, 2)}x`,
  ]);
  const cold = (): void => gpt('o200k_base').clearMergeCache();
  for (const file of pathologicalCorpus(files)) {
    const fileMb = Buffer.byteLength(file.text) / MB;
    let chunks = 0;
    const quadratic = longestPiece(file.text) > BARE_PIECE_LIMIT;
    const [chunkMs, bareMs] = race([
      { before: cold, run: ([f]) => { chunks = chunkFile(f, 0, createTokenizer('o200k_base'), DEFAULT_CHUNK_OPTIONS).length; } },
      { before: cold, run: ([f]) => { if (!quadratic) gptEncode('o200k_base', f.text); } },
    ], [file]).ms;
    let bare = bareMs / fileMb;
    if (quadratic) {
      const prefix = file.text.slice(0, BARE_PREFIX);
      cold();
      bare = cpuMs(() => gptEncode('o200k_base', prefix)) / (Buffer.byteLength(prefix) / MB);
    }
    const bound = quadratic ? '>= ' : '';
    worstRows.push([
      `${file.path} (${fmt(fileMb, 2)} MB)`, fmt(chunkMs / fileMb), `${fmt(chunkMs / fileMb / ordinaryMsPerMb, 2)}x`, String(chunks),
      `${bound}${fmt(bare)}${quadratic ? ' *' : ''}`, `${bound}${fmt(bare / (chunkMs / fileMb), 2)}x`,
    ]);
  }
  console.log('\nWorst cases (generated)');
  console.log(table(worstRows));
  console.log(`* only the first ${BARE_PREFIX / 1024} KB, one run: a lower bound, the bare encode is quadratic here`);
  console.log('\nTargets (reported, not asserted): chunkFile >= 0.8x gpt-tokenizer encode; worst case < 2x ordinary per MB.');
}
