import { promises as fs } from 'fs';
import * as path from 'path';
import type { EndpointLimits } from '../core/execute/endpointPool';
import { PROVIDER_KINDS, type EndpointConfig, type ProviderKind } from '../providers/endpoint';
import { defaultBaseUrl } from '../providers/factory';
import { originOf } from '../providers/http/http';
import { UsageError } from './options';

/** One endpoint named on the command line or in a config file: where, which model, its limits, where its key is. */
export interface CliEndpoint extends EndpointConfig, EndpointLimits {
  /** The environment variable holding its key (default: the provider's, see API_KEY_ENV). */
  apiKeyEnv?: string;
}

export const ENDPOINT_SYNTAX = 'PROVIDER:MODEL[@BASE_URL][,id=ID][,concurrency=N][,rpm=N][,tpm=N][,key-env=VAR][,api-version=V][,context-window=N][,max-output-tokens=N]';

const SPEC_KEYS: Record<string, keyof CliEndpoint> = {
  id: 'id',
  concurrency: 'maxConcurrency',
  rpm: 'requestsPerMinute',
  tpm: 'tokensPerMinute',
  'key-env': 'apiKeyEnv',
  'api-version': 'apiVersion',
  'context-window': 'contextWindow',
  'max-output-tokens': 'maxOutputTokens',
};
const NUMERIC = new Set<keyof CliEndpoint>(['maxConcurrency', 'requestsPerMinute', 'tokensPerMinute', 'contextWindow', 'maxOutputTokens']);

/**
 * Parses `--endpoint PROVIDER:MODEL[@BASE_URL][,key=value…]`, for example
 * `openai:gpt-4o-mini@https://host/v1,concurrency=8,key-env=OPENAI_KEY_2` or `ollama:llama3.1:8b`.
 * The model may hold colons (Ollama tags); the base URL may not hold a comma.
 */
export function parseEndpointSpec(spec: string): CliEndpoint {
  const [head, ...pairs] = spec.split(',');
  const colon = head.indexOf(':');
  const provider = head.slice(0, colon) as ProviderKind;
  if (colon <= 0 || !PROVIDER_KINDS.includes(provider)) {
    throw new UsageError(`--endpoint "${spec}": start with a provider (${PROVIDER_KINDS.join(', ')}) and a colon: ${ENDPOINT_SYNTAX}.`);
  }
  const rest = head.slice(colon + 1);
  const at = rest.indexOf('@');
  const model = at < 0 ? rest : rest.slice(0, at);
  const baseUrl = at < 0 ? undefined : rest.slice(at + 1);
  if (!model) throw new UsageError(`--endpoint "${spec}": name the model after "${provider}:".`);
  const entry: Record<string, unknown> = { provider, model, ...(baseUrl ? { baseUrl } : {}) };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = SPEC_KEYS[pair.slice(0, eq).trim()];
    if (eq < 0 || !key) throw new UsageError(`--endpoint "${spec}": unknown setting "${pair}"; use ${Object.keys(SPEC_KEYS).map((k) => `${k}=`).join(', ')}.`);
    entry[key] = pair.slice(eq + 1).trim();
  }
  // Messages name a setting as the spec wrote it (concurrency=), not as a config entry does (maxConcurrency).
  const written = (key: string) => `${Object.keys(SPEC_KEYS).find((k) => SPEC_KEYS[k] === key) ?? key}=`;
  return checkEndpoint(entry, `--endpoint "${spec}"`, written);
}

/**
 * Reads `--config FILE`: `{ "endpoints": [ … ] }` (or a bare array), each entry like the editor's
 * `batchPrompt.models` (id, provider, model, baseUrl, apiVersion, contextWindow, maxOutputTokens,
 * headers) plus `apiKeyEnv`, `maxConcurrency`, `requestsPerMinute`, `tokensPerMinute`. Keys never live
 * in the file; header values may (a gateway token), so no message ever quotes the file's text.
 */
export async function readEndpointConfig(file: string): Promise<CliEndpoint[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`Cannot read the endpoint config ${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}.`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the mistake, which may be a header's value.
    throw new UsageError(`The endpoint config ${file} is not valid JSON; check its quotes, commas and braces.`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { endpoints?: unknown })?.endpoints;
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`${file} names no endpoint: write { "endpoints": [ { "id": …, "provider": …, "model": … } ] }.`);
  return list.map((entry, i) => {
    const e = (entry ?? {}) as Record<string, unknown>;
    const where = `${path.basename(file)} endpoints[${i}]`;
    for (const secret of ['apiKey', 'key']) if (secret in e) throw new UsageError(`${where}: keys never go in the file; name the environment variable holding it with "apiKeyEnv".`);
    if (typeof e.id !== 'string' || !/^[A-Za-z0-9._-]+$/.test(e.id)) throw new UsageError(`${where}: "id" must be letters, digits, ".", "_" or "-".`);
    return checkEndpoint(e, `${where} (${e.id})`);
  });
}

/**
 * The run's endpoints from `--endpoint` options and `--config`: each `--endpoint` is a spec or the id
 * of a config entry; with a config and no `--endpoint`, every entry. Ids are made unique.
 */
export async function resolveEndpoints(specs: readonly string[], configFile: string | undefined, cwd: string): Promise<CliEndpoint[]> {
  const config = configFile ? await readEndpointConfig(path.resolve(cwd, configFile)) : [];
  const out: CliEndpoint[] = specs.length === 0
    ? config
    : specs.map((s) => {
        const byId = config.find((c) => c.id === s);
        if (byId) return byId;
        if (!s.includes(':')) throw new UsageError(configFile ? `--endpoint ${s}: no entry with that id in ${configFile}.` : `--endpoint ${s}: write ${ENDPOINT_SYNTAX}, or name an entry of --config FILE.`);
        return parseEndpointSpec(s);
      });
  const seen = new Map<string, number>();
  for (const e of out) {
    const n = (seen.get(e.id) ?? 0) + 1;
    seen.set(e.id, n);
    if (n > 1) e.id = `${e.id}~${n}`;
  }
  return out;
}

/** `name` says how the source writes a setting: a config file's JSON key by default, a spec's `key=`. */
function checkEndpoint(e: Record<string, unknown>, where: string, name: (key: string) => string = (key) => `"${key}"`): CliEndpoint {
  const provider = e.provider as ProviderKind;
  if (!PROVIDER_KINDS.includes(provider)) throw new UsageError(`${where}: "provider" must be one of ${PROVIDER_KINDS.join(', ')}.`);
  if (typeof e.model !== 'string' || !e.model) throw new UsageError(`${where}: "model" is missing.`);
  const baseUrl = typeof e.baseUrl === 'string' && e.baseUrl ? e.baseUrl : defaultBaseUrl(provider);
  if (!baseUrl) throw new UsageError(`${where}: Azure needs its resource URL (https://NAME.openai.azure.com).`);
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`${where}: the base URL "${baseUrl}" is not an http(s) URL.`);
  }
  const out: CliEndpoint = { id: typeof e.id === 'string' && e.id ? e.id : `${originOf(baseUrl)}#${e.model}`, provider, model: e.model, baseUrl };
  for (const key of NUMERIC) {
    if (e[key] === undefined) continue;
    const n = Number(e[key]);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${where}: ${name(key)} must be a whole number of at least 1, got "${String(e[key])}".`);
    (out as unknown as Record<string, number>)[key] = n;
  }
  if (e.apiVersion !== undefined) {
    if (provider !== 'azure') throw new UsageError(`${where}: an api-version is for azure only.`);
    out.apiVersion = String(e.apiVersion);
  }
  if (e.apiKeyEnv !== undefined) {
    if (typeof e.apiKeyEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.apiKeyEnv)) throw new UsageError(`${where}: ${name('apiKeyEnv')} must name an environment variable.`);
    out.apiKeyEnv = e.apiKeyEnv;
  }
  for (const price of ['inputCostPerMTok', 'outputCostPerMTok'] as const) if (typeof e[price] === 'number') out[price] = e[price];
  if (e.headers !== undefined) out.headers = checkHeaders(e.headers, where);
  return out;
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A config entry's `headers`, as `batchPrompt.models` has them: names to string values, sent with every
 * request (the provider's own auth header wins over one of the same name). Messages name a bad header,
 * never its value.
 */
function checkHeaders(raw: unknown, where: string): Record<string, string> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`${where}: "headers" must be an object of header names to string values.`);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!HEADER_NAME.test(name)) throw new UsageError(`${where}: "${name}" is not an HTTP header name.`);
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) throw new UsageError(`${where}: the value of header "${name}" must be a string on one line.`);
    out[name] = value;
  }
  return out;
}
