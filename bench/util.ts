import type { PackedRequest, Chunk } from '../src/core/plan/types';
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';

/**
 * Starts `out/bench/serverProcess.js` answering after `delayMs` (or, with `pieceMs`, generating each
 * reply a piece every `pieceMs`, streamed or sent whole at the end); resolves with its URL and a stop function.
 */
export async function startServerProcess(delayMs: number, pieceMs?: number): Promise<{ url: string; stop: () => void; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'serverProcess.js'), String(delayMs), ...(pieceMs ? [String(pieceMs)] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl).trim());
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, child, stop: () => child.kill('SIGTERM') };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Prints rows as an aligned table. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

/**
 * `n` one-chunk batches of small TypeScript functions (`repeat` copies of one each), for the benchmarks
 * that measure requests rather than text.
 */
export function oneChunkBatches(n: number, repeat = 1): PackedRequest<Chunk>[] {
  return Array.from({ length: n }, (_, i) => {
    const text = `export function f${i}(x: number): number {\n  return x * ${i};\n}\n`.repeat(repeat);
    const chunk: Chunk = { id: `${i + 1}.1`, path: `src/f${i}.ts`, index: 0, start: 0, end: text.length, startLine: 1, endLine: 3 * repeat, overlap: 0, tokens: 20 * repeat, text };
    return { id: `b${i + 1}`, chunks: [chunk], tokens: 100 + 20 * repeat };
  });
}
