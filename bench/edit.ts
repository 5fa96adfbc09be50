// Edit runs benchmark (#15): edit chunking beside text chunking on the bench corpus (time, chunks, tokens
// sent: the read-only context is the price of parts that tile the file), the files an edit run must skip
// (a line over the budget), and the time to assemble proposals and their patch. Figures only.
import * as path from 'path';
import { chunkFile, DEFAULT_CHUNK_OPTIONS } from '../src/core/plan/chunker';
import { chunkFileForEdit, editableOf } from '../src/core/plan/editChunker';
import { getTokenizer } from '../src/core/plan/tokenizer';
import { patchOf } from '../src/core/output/edits';
import { realCorpus } from './corpus';
import { table } from './util';

function cpuMs(run: () => void): number {
  const t0 = process.cpuUsage();
  run();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000;
}

export async function runEditBench(): Promise<void> {
  const tokenizer = getTokenizer('o200k_base');
  const corpus = realCorpus(path.resolve(__dirname, '../..'));
  const mb = corpus.bytes / 2 ** 20;
  const options = DEFAULT_CHUNK_OPTIONS;
  let textChunks = 0;
  let textTokens = 0;
  let editChunks = 0;
  let editTokens = 0;
  let skipped = 0;
  // Warm the tokenizer's caches alike for both.
  for (const f of corpus.files.filter((_, i) => i % 16 === 0)) chunkFile(f, 0, tokenizer, options);
  const textMs = cpuMs(() => {
    for (const [i, f] of corpus.files.entries()) {
      const chunks = chunkFile(f, i, tokenizer, options);
      textChunks += chunks.length;
      textTokens += chunks.reduce((n, c) => n + c.tokens, 0);
    }
  });
  const editMs = cpuMs(() => {
    for (const [i, f] of corpus.files.entries()) {
      const r = chunkFileForEdit(f, i, tokenizer, options);
      if (r.skipped !== undefined) {
        skipped++;
        continue;
      }
      editChunks += r.chunks.length;
      editTokens += r.chunks.reduce((n, c) => n + c.tokens, 0);
    }
  });
  console.log(`\nEdit chunking (#15) on ${corpus.files.length} files, ${mb.toFixed(1)} MB, chunkTokens ${options.chunkTokens}, overlap ${options.overlapTokens}:`);
  console.log(table([
    ['', 'CPU ms', 'MB/s', 'chunks', 'tokens sent'],
    ['text (chunkFile)', textMs.toFixed(0), (mb / (textMs / 1000)).toFixed(1), textChunks, textTokens],
    ['edit (chunkFileForEdit)', editMs.toFixed(0), (mb / (editMs / 1000)).toFixed(1), editChunks, editTokens],
  ]));
  console.log(`Files an edit run skips (a line over ${options.chunkTokens} tokens): ${skipped}.`);

  // Proposal assembly: the uppercase of every part joined back, and its git-style patch.
  const sample = corpus.files.filter((_, i) => i % 10 === 0);
  let patchBytes = 0;
  const assembleMs = cpuMs(() => {
    for (const [i, f] of sample.entries()) {
      const r = chunkFileForEdit(f, i, tokenizer, options);
      if (!r.chunks) continue;
      const proposed = r.chunks.map((c) => editableOf(c).toUpperCase()).join('');
      patchBytes += patchOf(f.path, f.text, proposed).length;
    }
  });
  const sampleMb = sample.reduce((n, f) => n + Buffer.byteLength(f.text), 0) / 2 ** 20;
  console.log(`Proposals and patch (every line changed) for ${sample.length} files, ${sampleMb.toFixed(1)} MB: ${assembleMs.toFixed(0)} ms CPU (chunking included), patch ${(patchBytes / 2 ** 20).toFixed(1)} MB.`);
}
