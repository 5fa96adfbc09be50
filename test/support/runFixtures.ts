import type { ChunkOutcome } from '../../src/core/execute/events';
import type { RunMeta } from '../../src/core/store/runStore';
import type { ChunkRef } from '../../src/core/plan/types';

/** A chunk reference "`id`" of `path` at `startLine` (10 characters, 2 lines, 5 tokens). */
export function ref(id: string, path: string, startLine: number): ChunkRef {
  return { id, path, index: Number(id.split('.')[1]) - 1, start: startLine * 10, end: startLine * 10 + 10, startLine, endLine: startLine + 1, overlap: 0, tokens: 5 };
}

/** The two-file run the RunStore tests share: src/a.ts (chunks 1.1, 1.2) and b.md (chunk 2.1). */
export const a1 = ref('1.1', 'src/a.ts', 1);
export const a2 = ref('1.2', 'src/a.ts', 3);
export const b1 = ref('2.1', 'b.md', 1);

export function meta(model: RunMeta['model'] = { id: 'm' }): RunMeta {
  return {
    runId: 'r1',
    createdAt: new Date().toISOString(),
    root: '/ws',
    prompt: 'p',
    model,
    encoding: 'o200k_base',
    protocolVersion: 1,
    parameters: {},
    files: [
      { path: 'src/a.ts', hash: '', chunks: [a1, a2] },
      { path: 'b.md', hash: '', chunks: [b1] },
    ],
  };
}

/** An outcome of `chunk`; a failure or cancel carries a transient "HTTP 500" error. */
export function outcome(chunk: ChunkRef, status: ChunkOutcome['status'], output?: string): ChunkOutcome {
  return { chunk, status, output, attempts: 1, batchId: 'b1', inputTokens: 3, outputTokens: 2, latencyMs: 7, ...(status === 'succeeded' ? {} : { error: { kind: 'transient', message: 'HTTP 500' } }) };
}
