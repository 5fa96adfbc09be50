import type { RunEvent } from '../../core/execute/events';
import type { ChatModel } from '../../core/execute/model';
import { formatDuration } from '../../util/format';
import type { Log } from '../base/log';

/** One log line for the run events worth reading later (requests, retries, splits, drops, failures). */
export function logRunEvent(log: Log, e: RunEvent, model: ChatModel): void {
  if (e.type === 'batch-finished') {
    const window = model.contextWindow ?? 0;
    const context = window ? ` (${Math.round((e.tokens / window) * 100)}% of the context)` : '';
    const outcome = e.ok ? `ok, ${e.inputTokens} in / ${e.outputTokens} out` : `${e.error?.kind}: ${e.error?.message}`;
    log.info(`${e.batchId}: ${e.chunkIds.length} chunks${e.endpoint ? ` on ${e.endpoint}` : ''}, ${e.tokens} tokens${context}, ${formatDuration(e.latencyMs)}, ${outcome}`);
  } else if (e.type === 'endpoint-dropped') {
    log.warn(`Endpoint ${e.endpoint} dropped for the rest of the run (${e.reason.kind}: ${e.reason.message}); ${e.remaining} left.`);
  } else if (e.type === 'retry-scheduled') {
    log.warn(`${e.batchId}: ${e.reason}; attempt ${e.attempt} in ${formatDuration(e.delayMs)}`);
  } else if (e.type === 'batch-split') {
    log.warn(`${e.batchId}: ${e.reason}; split into ${e.into.join(', ')}`);
  } else if (e.type === 'concurrency-changed') {
    log.info(`Concurrency ${e.from} → ${e.to} (${e.reason})`);
  } else if (e.type === 'reply-warning') {
    log.warn(`${e.batchId}: ${e.message}`);
  } else if (e.type === 'chunk-finished' && e.outcome.status === 'failed') {
    log.warn(`${e.outcome.chunk.path} lines ${e.outcome.chunk.startLine}-${e.outcome.chunk.endLine} failed after ${e.outcome.attempts} attempt(s): ${e.outcome.error?.kind}: ${e.outcome.error?.message}`);
  }
}
