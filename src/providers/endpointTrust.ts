import type { ProviderKind } from './endpoint';
import { PROVIDER_KINDS } from './endpoint';
import { defaultBaseUrl } from './factory';

/**
 * The rule both front ends apply before a key leaves the machine: a run folder, a job file or a
 * workspace setting may *name* an endpoint, but a key is sent only to an endpoint the user configured
 * (the editor's user-level `batchPrompt.models` or its Language Model API; the CLI's command line, its
 * `--config` file, or a provider's default URL with its default key variable).
 *
 * An endpoint is identified by its provider and the origin (scheme, host, port) of its base URL, the
 * provider's default URL when none is given. Ids and model names are labels: two entries with the
 * same id but other origins are other endpoints.
 */
export interface EndpointIdentity {
  provider: ProviderKind;
  /** `new URL(baseUrl).origin`, lower-cased by URL itself; undefined when there is no usable URL. */
  origin: string | undefined;
}

/** Where `endpoint` sends its requests, as provider and origin; undefined for an unknown provider. */
export function identityOf(endpoint: { provider?: string; baseUrl?: string }): EndpointIdentity | undefined {
  const provider = endpoint.provider as ProviderKind;
  if (!PROVIDER_KINDS.includes(provider)) return undefined;
  return { provider, origin: urlOrigin(endpoint.baseUrl ?? defaultBaseUrl(provider)) };
}

/** The origin of `url`, or undefined when it is not an http(s) URL. */
export function urlOrigin(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/** True when both name the same provider at the same origin (and both have one). */
export function sameEndpoint(a: { provider?: string; baseUrl?: string }, b: { provider?: string; baseUrl?: string }): boolean {
  const x = identityOf(a);
  const y = identityOf(b);
  return !!x && !!y && x.provider === y.provider && x.origin !== undefined && x.origin === y.origin;
}

/**
 * The configured endpoint a recorded one (from `run.json` or `job.json`) stands for: same provider and
 * origin, preferring the same id, then the same model. Undefined when the user configured none there:
 * the caller refuses and says how to go on, and never falls back to the recorded URL.
 */
export function findConfigured<T extends { id?: string; provider?: string; baseUrl?: string; model?: string }>(
  recorded: { id?: string; provider?: string; baseUrl?: string; model?: string },
  configured: readonly T[],
): T | undefined {
  const same = configured.filter((c) => sameEndpoint(recorded, c));
  return same.find((c) => c.id === recorded.id) ?? same.find((c) => c.model === recorded.model) ?? same[0];
}
