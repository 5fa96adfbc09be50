import { promises as fs } from 'fs';
import * as path from 'path';
import { endpointsOf, type RunEndpoint } from '../core/session/run';
import { RUN_FILE, type RunMeta } from '../core/store/runStore';
import type { Tokenizer } from '../core/plan/tokenizer';
import { PROVIDER_KINDS, type EndpointConfig, type ProviderKind } from '../providers/endpoint';
import { definedOnly } from '../util/objects';
import type { CliEndpoint } from './endpoints';
import type { Io } from './io';
import { keyVarOf } from './keyHints';
import { selectModel } from './models';
import { entryPrices } from './spendCap';
import { UsageError, type CliOptions } from './options';
import { configuredEndpoints, describeRecorded, endpointOptionFor, matchRecorded, missingHeaders, shown, type RecordedEndpoint } from './trust';

/**
 * The `run.json` of the run folder a command names (resume, reduce), read as it stands: the commands
 * check the whole folder before they write or send. Undefined after saying why on stderr.
 */
export async function readRunFolderMeta(dir: string, io: Io): Promise<RunMeta | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, RUN_FILE), 'utf8')) as RunMeta;
  } catch {
    io.stderr.write(`batch-prompt: ${dir} is not a run folder (no readable ${RUN_FILE}).\n`);
    return undefined;
  }
}

/**
 * The endpoints a run folder records, each rebuilt as the configured endpoint it matches (see trust.ts):
 * for `resume` and `reduce`. Undefined after saying why on stderr (none matches, a key is missing).
 */
export async function recordedEndpoints(opts: CliOptions, io: Io, meta: RunMeta, tokenizer: Tokenizer, verb: 'resume' | 'reduce'): Promise<{ endpoints: RunEndpoint[]; keyVars: Map<string, string | undefined> } | undefined> {
  const doing = verb === 'resume' ? 'resuming' : 'reducing';
  const m = meta.model ?? { id: '' };
  const provider = m.provider as ProviderKind;
  if (!PROVIDER_KINDS.includes(provider) || !m.model) {
    io.stderr.write(
      m.provider === 'vscode-lm'
        ? `batch-prompt: run ${shown(meta.runId)} used VS Code's Language Model API (${shown(m.id)}); resume it in VS Code with "Batch Prompt: Resume Run".\n`
        : `batch-prompt: ${RUN_FILE} of run ${shown(meta.runId)} does not say which endpoint it used (provider ${shown(m.provider ?? 'missing')}, model ${shown(m.model ?? 'missing')}).\n`,
    );
    return undefined;
  }
  let configured: CliEndpoint[];
  try {
    configured = await configuredEndpoints(opts, io.env, io.cwd);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return undefined;
  }
  // Each recorded endpoint goes on as the configured endpoint it matches (provider, origin, key
  // variable): that one's URL, key variable and headers, never the folder's. A several-endpoint run
  // goes on with the ones matched, as it does without an endpoint whose key is missing; none: refused.
  const recorded = endpointsOf(meta);
  const several = recorded.length > 1;
  for (const info of recorded) {
    if (!PROVIDER_KINDS.includes(info.provider as ProviderKind) || !info.model) {
      io.stderr.write(`batch-prompt: ${RUN_FILE} of run ${shown(meta.runId)} does not say how to reach its endpoint ${shown(info.id)} (provider ${shown(info.provider ?? 'missing')}, model ${shown(info.model ?? 'missing')}).\n`);
      return undefined;
    }
  }
  const matches = recorded.map((info) => matchRecorded(info, configured));
  const optionFor = (info: RecordedEndpoint) => endpointOptionFor(info) ?? '--endpoint PROVIDER:MODEL@URL';
  const notConfigured = (info: RecordedEndpoint) => `batch-prompt: ${RUN_FILE} of run ${shown(meta.runId)} names the endpoint ${describeRecorded(info)}, which is not one you configured`;
  if (matches.every((c) => !c)) {
    const how = `batch-prompt ${verb} ${opts.inputs[0]} ${recorded.map(optionFor).join(' ')} (or --config FILE).\n`;
    if (!several) io.stderr.write(`${notConfigured(recorded[0])}; nothing was sent. To ${verb} on it, name it: ${how}`);
    else io.stderr.write(`${recorded.map((info) => `${notConfigured(info)}.\n`).join('')}batch-prompt: nothing was sent. To ${verb} run ${shown(meta.runId)}, name its endpoints: ${how}`);
    return undefined;
  }
  const recordedConcurrency = (meta.parameters as { maxConcurrency?: number } | undefined)?.maxConcurrency;
  const endpoints: RunEndpoint[] = [];
  const keyVars = new Map<string, string | undefined>();
  recorded.forEach((info, i) => {
    const c = matches[i];
    if (!c) {
      io.stderr.write(`${notConfigured(info)}; ${doing} without it (to ${verb} on it too, add ${optionFor(info)}).\n`);
      return;
    }
    const kind = info.provider as ProviderKind;
    // Limits cannot move a key: the configured endpoint's when it sets them, else the run's.
    const limits = { maxConcurrency: c.maxConcurrency ?? info.maxConcurrency, requestsPerMinute: c.requestsPerMinute ?? info.requestsPerMinute, tokensPerMinute: c.tokensPerMinute ?? info.tokensPerMinute };
    const endpoint: EndpointConfig = { id: info.id, provider: kind, baseUrl: c.baseUrl, model: info.model!, contextWindow: c.contextWindow ?? info.contextWindow, maxOutputTokens: c.maxOutputTokens ?? info.maxOutputTokens, apiVersion: c.apiVersion ?? info.apiVersion, headers: c.headers };
    const model = missingHeaders(info, c, opts.config, io) ? undefined : selectModel(endpoint, tokenizer, io, { apiKeyEnv: c.apiKeyEnv, connections: opts.explicit.maxConcurrency ?? limits.maxConcurrency ?? recordedConcurrency });
    if (model) {
      const prices = entryPrices(c);
      endpoints.push({ model, info: definedOnly({ ...info, baseUrl: c.baseUrl, apiKeyEnv: c.apiKeyEnv, ...limits }), ...(prices ? { prices } : {}) });
      keyVars.set(info.id, keyVarOf(kind, c.apiKeyEnv, io.env));
    } else if (several) io.stderr.write(`batch-prompt: ${doing} without the endpoint ${shown(info.id)}.\n`);
  });
  if (endpoints.length === 0) return undefined;
  return { endpoints, keyVars };
}
