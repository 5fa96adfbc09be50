// Run folders of structured runs (#14) written through the real RunStore, for the tests of the
// artifacts, the report, the CLI's --fail-on/--sarif and merge (no model: each chunk's value is given).
import { promises as fs } from 'fs';
import * as path from 'path';
import type { ChunkOutcome } from '../../src/core/execute/events';
import type { Finding } from '../../src/core/output/kind';
import { encodeEntries, type OutputSpec } from '../../src/core/output/spec';
import { hashText } from '../../src/core/plan/plan';
import type { ChunkRef } from '../../src/core/plan/types';
import { RunStore, type RunMeta, type RunSummary } from '../../src/core/store/runStore';

/** One chunk of a fixture file: its lines and its value (or `fail`: recorded as failed). */
export interface FixtureChunk {
  startLine: number;
  endLine: number;
  value?: unknown;
  fail?: string;
}

export interface FixtureFile {
  path: string;
  /** Defaults to numbered lines, as many as the last chunk's end. */
  text?: string;
  chunks: FixtureChunk[];
}

/** A chunk's findings value. */
export function findingsValue(...findings: Finding[]): { findings: Finding[] } {
  return { findings };
}

/**
 * Writes the files under `root` and a run folder `dir` for them, through `RunStore` (run.json,
 * run.jsonl, chunks/, outputs/, summary.json); chunk ids are `FILE.CHUNK` from `firstFileIndex`.
 */
export async function writeFixtureRun(dir: string, root: string, output: OutputSpec | undefined, files: FixtureFile[], options: { prompt?: string; firstFileIndex?: number } = {}): Promise<{ meta: RunMeta; summary: RunSummary }> {
  const metaFiles: RunMeta['files'] = [];
  for (const [i, f] of files.entries()) {
    const last = Math.max(...f.chunks.map((c) => c.endLine));
    const text = f.text ?? Array.from({ length: last }, (_, n) => `line ${n + 1} of ${f.path}`).join('\n') + '\n';
    await fs.mkdir(path.dirname(path.join(root, f.path)), { recursive: true });
    await fs.writeFile(path.join(root, f.path), text);
    const chunks: ChunkRef[] = f.chunks.map((c, j) => ({ id: `${(options.firstFileIndex ?? 1) + i}.${j + 1}`, path: f.path, index: j, start: 0, end: 0, startLine: c.startLine, endLine: c.endLine, overlap: 0, tokens: 10 }));
    metaFiles.push({ path: f.path, hash: hashText(text), chunks });
  }
  const meta: RunMeta = {
    runId: path.basename(dir),
    createdAt: '2026-01-01T00:00:00.000Z',
    root,
    prompt: options.prompt ?? 'Find bugs.',
    model: { id: 'm', provider: 'openai', model: 'm', baseUrl: 'http://127.0.0.1:1/v1' },
    encoding: 'o200k_base',
    protocolVersion: 1,
    ...(output ? { output } : {}),
    parameters: {},
    files: metaFiles,
  };
  const store = await RunStore.create(dir, meta);
  let succeeded = 0;
  let failed = 0;
  for (const [i, f] of files.entries()) {
    for (const [j, c] of f.chunks.entries()) {
      const chunk = metaFiles[i].chunks[j];
      const base = { chunk, attempts: 1, batchId: `b${i}.${j}`, inputTokens: 100, outputTokens: 20, latencyMs: 5 };
      const outcome: ChunkOutcome = c.fail ? { ...base, status: 'failed', error: { kind: 'invalid-output', message: c.fail } } : { ...base, status: 'succeeded', output: output && output.kind !== 'text' ? encodeEntries([{ startLine: c.startLine, endLine: c.endLine, value: c.value }]) : String(c.value) };
      if (c.fail) failed++;
      else succeeded++;
      await store.record(outcome);
    }
  }
  const summary = await store.finish({ succeeded, failed, canceled: 0, requests: succeeded + failed, inputTokens: 100 * (succeeded + failed), outputTokens: 20 * (succeeded + failed), durationMs: 1000 });
  return { meta, summary };
}
