import type { ChatModel } from '../core/execute/model';
import { ConfigError } from '../core/execute/errors';
import type { Tokenizer } from '../core/plan/tokenizer';
import type { RunEndpoint } from '../core/session/run';
import type { EndpointConfig } from '../providers/endpoint';
import { createModel, defaultBaseUrl, needsApiKey } from '../providers/factory';
import { originOf } from '../providers/http/http';
import { resolveEndpoints, type CliEndpoint } from './endpoints';
import type { Io } from './io';
import { apiKeyFromEnv, UsageError, type CliOptions } from './options';
import { endpointInfoOf } from '../core/session/prepare';
import { entryPrices } from './spendCap';

// The endpoints and models a command line names: `--provider`/`--model`, or `--endpoint`/`--config`;
// each model with its key from the environment, or a one-line reason on stderr.

export function endpointOf(opts: CliOptions): EndpointConfig {
  return {
    id: `${originOf(opts.baseUrl)}#${opts.model!}`,
    provider: opts.provider,
    baseUrl: opts.baseUrl,
    model: opts.model!,
    contextWindow: opts.contextWindow,
    maxOutputTokens: opts.maxOutputTokens,
    apiVersion: opts.apiVersion,
  };
}

/**
 * The run's endpoints: those of `--endpoint`/`--config`, or the one of `--provider`/`--model`; undefined
 * after a one-line reason on stderr (a bad spec, a missing key: no request is made).
 */
export async function runEndpoints(opts: CliOptions, tokenizer: Tokenizer, io: Io): Promise<RunEndpoint[] | undefined> {
  if (!fromSpecs(opts)) {
    const model = selectModel(endpointOf(opts), tokenizer, io, { connections: opts.concurrency });
    return model && [{ model, info: { id: model.id } }];
  }
  let configs: CliEndpoint[];
  try {
    configs = await resolveEndpoints(opts.endpoints, opts.config, io.cwd);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return undefined;
  }
  const out: RunEndpoint[] = [];
  for (const c of configs) {
    // With several config entries, one without its key can be left out by naming the others.
    const others = opts.config && opts.endpoints.length === 0 ? configs.filter((o) => o !== c).map((o) => `--endpoint ${o.id}`).join(' ') : '';
    const model = selectModel(c, tokenizer, io, { apiKeyEnv: c.apiKeyEnv, connections: c.maxConcurrency ?? opts.concurrency, orElse: others && `, or run without it: ${others}` });
    if (!model) return undefined;
    // run.json records how to rebuild the endpoint: never a key, never a header's value (only its name).
    const headerNames = c.headers && Object.keys(c.headers).length ? Object.keys(c.headers) : undefined;
    const prices = entryPrices(c);
    out.push({ model, info: endpointInfoOf({ ...c, headerNames }), ...(prices ? { prices } : {}) });
  }
  return out;
}

/** The run's endpoints come from `--endpoint` / `--config` (not `--provider` / `--model`). */
export function fromSpecs(opts: CliOptions): boolean {
  return opts.endpoints.length > 0 || opts.config !== undefined;
}

/**
 * An endpoint's model, or undefined after a one-line reason on stderr (a missing key: no request is
 * made). Its key comes from `apiKeyEnv` or the provider's variable; its connection pool holds
 * `connections` sockets (the endpoint's concurrency).
 */
export function selectModel(endpoint: EndpointConfig, tokenizer: Tokenizer, io: Io, { apiKeyEnv, connections, orElse = '' }: { apiKeyEnv?: string; connections?: number; orElse?: string } = {}): ChatModel | undefined {
  const { key, envVar } = apiKeyEnv ? { key: io.env[apiKeyEnv] || undefined, envVar: apiKeyEnv } : apiKeyFromEnv(endpoint.provider, io.env);
  if (needsApiKey(endpoint) && !key) {
    io.stderr.write(`batch-prompt: set ${envVar} in the environment: the ${endpoint.provider} endpoint "${endpoint.id}" at ${originOf(endpoint.baseUrl ?? defaultBaseUrl(endpoint.provider) ?? '')} needs an API key${orElse}.\n`);
    return undefined;
  }
  try {
    return createModel(endpoint, key, { tokenCounter: (text) => tokenizer.count(text), connections });
  } catch (e) {
    if (!ConfigError.is(e)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return undefined;
  }
}
