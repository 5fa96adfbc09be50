import { Agent, type Dispatcher } from 'undici';

/** A pool of keep-alive connections: `fetch`'s own dispatcher type (undici), configured per endpoint. */
export type ConnectionPool = Dispatcher;

/** Connections per endpoint when the caller does not say (the setting `batchPrompt.maxConcurrency`'s ceiling). */
export const DEFAULT_POOL_CONNECTIONS = 64;

/**
 * The keep-alive connection pool of one endpoint, sized to the run's concurrency: requests reuse its
 * sockets instead of opening one each, and never more than `connections` are open to the endpoint's
 * origin. It is undici's `Agent`, the dispatcher `fetch` itself uses, configured rather than replaced:
 * - `connections`: at most one socket per request in flight, so the pool matches the executor's limit;
 * - `keepAliveTimeout` 30 s (the server's `Keep-Alive: timeout` wins when shorter; undici keeps a
 *   margin) so sockets survive the pauses of a rate-limited run, `keepAliveMaxTimeout` 10 min;
 * - `pipelining: 1`: one request per socket at a time (HTTP/1.1 pipelining breaks on many servers).
 * Idle sockets do not keep a process alive (the CLI exits as soon as its run ends).
 */
export function connectionPool(connections = DEFAULT_POOL_CONNECTIONS): ConnectionPool {
  return new Agent({
    connections: Math.max(1, Math.floor(connections)),
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    connect: { timeout: 30_000 },
  });
}

/** Options every HTTP provider takes. */
export interface PoolOptions {
  /** The endpoint's connection pool; `fetch`'s default dispatcher when absent. */
  pool?: ConnectionPool;
}
