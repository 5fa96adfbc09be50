// Connection pooling: the executor's N one-chunk requests at concurrency C against a local server
// answering after D ms (in another process), sent three ways:
//   - one socket per request (an undici Agent with keep-alive off: what a client without a pool does),
//   - fetch's default dispatcher (keep-alive, no bound on sockets),
//   - the endpoint's own pool (`connectionPool(C)`, what the providers use).
// Efficiency = ideal time (N / C × D) / measured time. Client CPU per request from process.cpuUsage().
import { Agent } from 'undici';
import { executeRequests } from '../src/core/execute/executor';
import { getTokenizer } from '../src/core/plan/tokenizer';
import { OpenAICompatibleModel } from '../src/providers/openaiCompatible';
import { connectionPool, type ConnectionPool } from '../src/providers/http/pool';
import { median, oneChunkBatches, startServerProcess, table } from './util';

const N = 2000;
const CONCURRENCY = 16;
const DELAY_MS = 50;
const ROUNDS = 5;

interface Way {
  name: string;
  /** A fresh dispatcher per round (so that each round counts its own sockets); undefined = fetch's default. */
  pool: () => ConnectionPool | undefined;
}

interface Figures {
  seconds: number;
  cpuMsPerRequest: number;
  sockets?: number;
}

export async function runPoolBench(): Promise<void> {
  const server = await startServerProcess(DELAY_MS);
  try {
    const all = oneChunkBatches(N);
    const tokenizer = getTokenizer();
    const ways: Way[] = [
      { name: 'a socket per request (no keep-alive)', pool: () => new Agent({ pipelining: 0 }) },
      { name: "fetch's default dispatcher", pool: () => undefined },
      { name: `endpoint pool, ${CONCURRENCY} connections`, pool: () => connectionPool(CONCURRENCY) },
    ];
    let failures = 0;
    const measure = async (way: Way): Promise<Figures> => {
      const pool = way.pool();
      let sockets = 0;
      pool?.on('connect', () => sockets++);
      const model = new OpenAICompatibleModel({ baseUrl: server.url, model: 'bench', pool });
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const s = await executeRequests(all, { prompt: 'Explain.', model, tokenizer, maxConcurrency: CONCURRENCY });
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      failures += s.failed + s.canceled;
      await pool?.close();
      return { seconds, cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / N, sockets: pool ? sockets : undefined };
    };
    for (const w of ways) await measure(w); // warm-up: JIT, tokenizer
    const runs = new Map<Way, Figures[]>(ways.map((w) => [w, []]));
    for (let r = 0; r < ROUNDS; r++) for (const w of ways) runs.get(w)!.push(await measure(w));
    const ideal = (N / CONCURRENCY) * (DELAY_MS / 1000);
    const rows = ways.map((w) => {
      const f = runs.get(w)!;
      const s = median(f.map((x) => x.seconds));
      const sockets = f[0].sockets;
      return [w.name, s.toFixed(2), (ideal / s).toFixed(3), median(f.map((x) => x.cpuMsPerRequest)).toFixed(3), sockets === undefined ? 'n/a' : String(median(f.map((x) => x.sockets ?? 0)))];
    });
    console.log(`\n## Connection pool: executeRequests, ${N} one-chunk requests, concurrency ${CONCURRENCY}, server answers after ${DELAY_MS} ms (own process); median of ${ROUNDS}`);
    console.log(table([['', 'seconds', 'efficiency', 'client CPU ms/request', 'sockets opened'], ...rows]));
    const cpu = (i: number) => Number(rows[i][3]);
    console.log(`pool vs a socket per request: CPU ${(cpu(2) / cpu(0)).toFixed(2)}×; pool vs fetch's default: CPU ${(cpu(2) / cpu(1)).toFixed(2)}×; failed chunks: ${failures}`);
  } finally {
    server.stop();
  }
}
