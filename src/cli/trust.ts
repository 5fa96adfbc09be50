import type { EndpointInfo } from '../core/store/runStore';
import { defaultBaseUrl } from '../providers/factory';
import { PROVIDER_KINDS, type ProviderKind } from '../providers/endpoint';
import { findConfigured, identityOf } from '../providers/endpointTrust';
import { originOf } from '../providers/http/http';
import { resolveEndpoints, type CliEndpoint } from './endpoints';
import { API_KEY_ENV, type CliOptions } from './options';

/**
 * Which endpoint a run folder's recorded one stands for, in `resume`, `status`, `collect` and `cancel`.
 * A run folder may come from anywhere (a cloned repository): its `run.json` / `job.json` name an
 * endpoint, but never choose where a key goes nor which variable it is read from. A key goes only to
 * an endpoint the user configured for this command:
 * - the `--endpoint` options and the `--config FILE` of this command line, when given (only those);
 * - otherwise the single endpoint of `--provider` / `--base-url`, and each provider's default URL
 *   (openai `$OPENAI_BASE_URL` or https://api.openai.com/v1, azure `$AZURE_OPENAI_ENDPOINT`, anthropic
 *   and ollama their own) with its default key variable.
 * A recorded endpoint matches a configured one with the same provider, base URL origin and key
 * variable (`findConfigured` of providers/endpointTrust.ts, then the variable); its URL, key variable
 * and headers are the configured one's, never the folder's.
 */

/** What a run folder records about an endpoint (run.json's `model` / `endpoints[]`, job.json's provider). */
export interface RecordedEndpoint {
  id: string;
  provider?: string;
  model?: string;
  baseUrl?: string;
  apiKeyEnv?: string;
}

/** The endpoints this command line allows a key to go to (see above). Throws `UsageError` for a bad spec or config. */
export async function configuredEndpoints(
  opts: Pick<CliOptions, 'endpoints' | 'config' | 'provider' | 'baseUrl' | 'model' | 'apiVersion' | 'contextWindow' | 'maxOutputTokens'>,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<CliEndpoint[]> {
  if (opts.endpoints.length || opts.config !== undefined) return resolveEndpoints(opts.endpoints, opts.config, cwd);
  const out: CliEndpoint[] = [];
  if (opts.baseUrl) {
    out.push({ id: `${originOf(opts.baseUrl)}#${opts.model ?? ''}`, provider: opts.provider, model: opts.model ?? '', baseUrl: opts.baseUrl, apiVersion: opts.apiVersion, contextWindow: opts.contextWindow, maxOutputTokens: opts.maxOutputTokens });
  }
  for (const provider of PROVIDER_KINDS) {
    const baseUrl = providerDefaultUrl(provider, env);
    if (baseUrl) out.push({ id: `default:${provider}`, provider, model: '', baseUrl });
  }
  return out;
}

/** The URL a provider takes when none is named, as `run` does: the environment's, else the built-in one. */
export function providerDefaultUrl(provider: ProviderKind, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = provider === 'openai' ? env.OPENAI_BASE_URL : provider === 'azure' ? env.AZURE_OPENAI_ENDPOINT : undefined;
  return fromEnv || defaultBaseUrl(provider);
}

/** The variable an endpoint's key is read from: its own, else the provider's first; '' for Ollama (it takes none). */
export function keyVariable(e: { provider?: string; apiKeyEnv?: string }): string {
  if (e.provider === 'ollama') return '';
  return e.apiKeyEnv ?? API_KEY_ENV[e.provider as ProviderKind]?.[0] ?? '';
}

/**
 * The configured endpoint `recorded` stands for: same provider, base URL origin and key variable.
 * Undefined when there is none: the caller refuses, and never falls back to the recorded URL or variable.
 */
export function matchRecorded<T extends CliEndpoint>(recorded: RecordedEndpoint, configured: readonly T[]): T | undefined {
  const key = keyVariable(recorded);
  return findConfigured(recorded, configured.filter((c) => keyVariable(c) === key));
}

/** `"id" at ORIGIN (provider, key from $VAR)`: how a message names a recorded endpoint (never a credential of its URL). */
export function describeRecorded(recorded: RecordedEndpoint): string {
  const origin = identityOf(recorded)?.origin;
  const key = keyVariable(recorded);
  return `"${shown(recorded.id)}" at ${origin ?? 'no usable URL'} (${shown(recorded.provider ?? 'no provider')}${key ? `, key from $${shown(key)}` : ''})`;
}

/**
 * The `--endpoint` option that would configure `recorded`: `PROVIDER:MODEL@URL[,key-env=VAR]`, its URL
 * without userinfo, query or fragment (where credentials hide); undefined when it has no usable URL.
 */
export function endpointOptionFor(recorded: RecordedEndpoint): string | undefined {
  const identity = identityOf(recorded);
  if (!identity?.origin) return undefined;
  const provider = identity.provider;
  const u = new URL(recorded.baseUrl ?? defaultBaseUrl(provider)!);
  const url = `${u.origin}${u.pathname === '/' ? '' : u.pathname}`;
  const keyEnv = recorded.apiKeyEnv && provider !== 'ollama' && ENV_NAME.test(recorded.apiKeyEnv) && recorded.apiKeyEnv !== API_KEY_ENV[provider][0] ? `,key-env=${recorded.apiKeyEnv}` : '';
  return `--endpoint ${provider}:${shown(recorded.model || 'MODEL')}@${url}${keyEnv}`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A folder's text as a message shows it: on one line, no control characters (a folder must not draw on the terminal). */
export function shown(text: string): string {
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 200);
}

/**
 * True, after saying why on stderr, when the run sent the endpoint custom headers (run.json holds
 * their names, never values) that the configured endpoint it resumes on does not give again: such an
 * endpoint is not rebuilt. `configFile` is the `--config` of this command line.
 */
export function missingHeaders(info: EndpointInfo, configured: Pick<CliEndpoint, 'id' | 'headers'>, configFile: string | undefined, io: { stderr: NodeJS.WritableStream }): boolean {
  const names = info.headerNames ?? [];
  if (!names.length) return false;
  const given = new Set(Object.keys(configured.headers ?? {}).map((n) => n.toLowerCase()));
  const lacking = names.filter((n) => !given.has(n.toLowerCase()));
  if (!lacking.length) return false;
  io.stderr.write(
    configFile
      ? `batch-prompt: ${configFile} gives the endpoint ${configured.id} no header ${lacking.map(shown).join(', ')}; the run was sent with it (run.json holds header names, never values).\n`
      : `batch-prompt: the endpoint ${shown(info.id)} was run with the headers ${names.map(shown).join(', ')} from its config file, and run.json never holds header values: resume with --config FILE (the run's file).\n`,
  );
  return true;
}
