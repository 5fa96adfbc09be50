/**
 * Scripts for `ModelServer` that make one endpoint of a several-endpoint run behave in a set way: slow,
 * rate limited now and then, or failing after some requests. Each is a pure function of the request's
 * arrival number, so a test can tell afterwards what every logged request was answered.
 */
import type { Behaviour, Script } from './modelServer';

/** Answers every request after `delayMs`. */
export function slow(delayMs: number): Script {
  return () => ({ kind: 'ok', delayMs });
}

/** Every `every`-th request gets a 429 asking to wait `retryAfterMs`; the others are answered after `delayMs`. */
export function rateLimitedEvery(every: number, retryAfterMs: number, delayMs = 0): Script {
  return (r) =>
    r.n % every === 0
      ? { kind: 'status', status: 429, headers: { 'retry-after-ms': String(retryAfterMs) }, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } } }
      : { kind: 'ok', delayMs };
}

/** The first `okRequests` are answered after `delayMs`; every later one gets `failure`. */
export function failingAfter(okRequests: number, failure: Behaviour, delayMs = 0): Script {
  return (r) => (r.n > okRequests ? failure : { kind: 'ok', delayMs });
}

export const SERVER_ERROR: Behaviour = { kind: 'status', status: 500, body: { error: { message: 'The server had an error while processing your request.', type: 'server_error', code: null } } };
export const BAD_KEY: Behaviour = { kind: 'status', status: 401, body: { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } } };
