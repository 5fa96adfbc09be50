/**
 * Entry of a planning worker thread (bundled as dist/planWorker.js; see `ChunkPool`): chunks the texts
 * it is sent with `chunkText`, one message at a time, and answers with the spans or the error.
 */
import { parentPort } from 'worker_threads';
import { chunkText } from './fileChunks';
import type { ChunkTask, ChunkReply } from './chunkPool';

parentPort?.on('message', (task: ChunkTask) => {
  let reply: ChunkReply;
  try {
    reply = { id: task.id, result: chunkText(task.text, task.params) };
  } catch (e) {
    reply = { id: task.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage(reply);
});
