/**
 * Entry of a planning worker thread (bundled as dist/planWorker.js; see `ChunkPool`): chunks the texts
 * it is sent with `chunkText` (counting each chunk's opener when the file's place is given) or counts
 * texts, one message at a time, and answers with the result or the error.
 */
import { parentPort } from 'worker_threads';
import { chunkText, refsOf } from './fileChunks';
import { chunkOpener } from './protocol';
import { getTokenizer } from './tokenizer';
import { textOfShared, type ChunkReply, type ChunkResult, type ChunkTask } from './chunkPool';

function answer(task: ChunkTask): ChunkResult {
  if (task.kind === 'count') {
    const tokenizer = getTokenizer(task.encoding);
    return task.texts.map((t) => tokenizer.count(t));
  }
  const chunking = chunkText(task.shared ? textOfShared(task.shared) : task.text, task.params);
  if (!task.place || chunking.spans === undefined) return { chunking };
  const tokenizer = getTokenizer(task.params.encoding);
  const openerTokens = refsOf(chunking.spans, task.place.path, task.place.fileIndex).map((r) => tokenizer.count(chunkOpener(r)));
  return { chunking, openerTokens };
}

parentPort?.on('message', (task: ChunkTask) => {
  let reply: ChunkReply;
  try {
    reply = { id: task.id, result: answer(task) };
  } catch (e) {
    reply = { id: task.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage(reply);
});
