import { ANTHROPIC_VERSION } from './anthropic';
import type { ProviderKind } from './endpoint';

/**
 * A server's own list of models, for "Add Model…" (no `vscode` import; unit-tested):
 * - OpenAI-compatible: `GET {baseUrl}/models` → `{ data: [{ id, object: "model", … }] }` (LM Studio,
 *   vLLM, llama.cpp and LiteLLM answer the same);
 * - Ollama: `GET {baseUrl}/api/tags` → `{ models: [{ name, model, … }] }`;
 * - Anthropic: `GET {baseUrl}/v1/models` (`x-api-key`, `anthropic-version`) → `{ data: [{ id,
 *   display_name, … }], has_more, last_id }` (the first page: up to 1000 with `limit`).
 * Azure lists deployments only through its management API: the deployment name is typed.
 */

export interface ListedModel {
  id: string;
  /** A friendlier name when the server gives one (Anthropic's `display_name`). */
  label?: string;
}

/** The URL of the list and the headers it needs (the key's header only when a key is given); undefined for Azure. */
export function modelListRequest(provider: ProviderKind, baseUrl: string, apiKey?: string): { url: string; headers: Record<string, string> } | undefined {
  const base = baseUrl.replace(/\/+$/, '');
  switch (provider) {
    case 'openai':
      return { url: `${base}/models`, headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} };
    case 'ollama':
      return { url: `${base}/api/tags`, headers: {} };
    case 'anthropic':
      return { url: `${base}/v1/models?limit=1000`, headers: { 'anthropic-version': ANTHROPIC_VERSION, ...(apiKey ? { 'x-api-key': apiKey } : {}) } };
    case 'azure':
      return undefined;
  }
}

/** The models named in a list's body (anything unexpected is skipped), sorted by id, without repeats. */
export function parseModelList(provider: ProviderKind, body: unknown): ListedModel[] {
  const b = (body ?? {}) as Record<string, unknown>;
  const items = provider === 'ollama' ? b.models : b.data;
  if (!Array.isArray(items)) return [];
  const out = new Map<string, ListedModel>();
  for (const item of items as unknown[]) {
    if (!item || typeof item !== 'object') continue;
    const m = item as Record<string, unknown>;
    const id = provider === 'ollama' ? (typeof m.name === 'string' ? m.name : m.model) : m.id;
    if (typeof id !== 'string' || !id.trim() || id.length > 200) continue;
    const label = typeof m.display_name === 'string' && m.display_name !== id ? m.display_name : undefined;
    out.set(id, { id, ...(label ? { label } : {}) });
  }
  return [...out.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** Asks the server for its models; throws an Error saying what went wrong (HTTP status, not JSON, unreachable), never the key. */
export async function fetchModelList(provider: ProviderKind, baseUrl: string, apiKey?: string, timeoutMs = 10_000): Promise<ListedModel[]> {
  const request = modelListRequest(provider, baseUrl, apiKey);
  if (!request) return [];
  let res: Response;
  try {
    res = await fetch(request.url, { headers: { accept: 'application/json', ...request.headers }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new Error(`no answer from ${request.url} (${(e as Error).name === 'TimeoutError' ? 'timed out' : ((e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message)})`);
  }
  if (!res.ok) throw new Error(`${request.url} answered HTTP ${res.status}${res.status === 401 || res.status === 403 ? ' (the key is missing or refused)' : ''}`);
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new Error(`${request.url} did not answer JSON`);
  }
  return parseModelList(provider, body);
}

/** An endpoint id made of a model name: letters, digits, ".", "_" and "-" (what batchPrompt.models accepts). */
export function endpointIdOf(model: string, taken: readonly string[] = []): string {
  const base = model.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'model';
  if (!taken.includes(base)) return base;
  for (let i = 2; ; i++) if (!taken.includes(`${base}-${i}`)) return `${base}-${i}`;
}
