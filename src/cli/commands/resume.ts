import { promises as fs } from 'fs';
import * as path from 'path';
import { parameterOverrides, resendRefusal, tokenizerOf } from '../../core/session/prepare';
import { endpointsOf, resumeRun, type RunEndpoint } from '../../core/session/run';
import { UntrustedRootError } from '../../core/store/pathGuard';
import { RUN_FILE, RunLockedError, type RunMeta, type RunSummary } from '../../core/store/runStore';
import { PROVIDER_KINDS, type EndpointConfig, type ProviderKind } from '../../providers/endpoint';
import { definedOnly } from '../../util/objects';
import type { CliEndpoint } from '../endpoints';
import type { Io } from '../io';
import { keyVarOf } from '../keyHints';
import { selectModel } from '../models';
import { UsageError, type CliOptions } from '../options';
import { ciOutcome, printProposals, findingsOptionsProblem, finished, ProgressDisplay, writeReport } from '../runOutput';
import { configuredEndpoints, describeRecorded, endpointOptionFor, matchRecorded, missingHeaders, shown, type RecordedEndpoint } from '../trust';
import { cacheOf } from '../userCache';

/** `batch-prompt resume DIR`: the run's own prompt, endpoint, parameters and plan; the key from the environment. */
export async function resumeCommand(opts: CliOptions, io: Io): Promise<number> {
  const dir = path.resolve(io.cwd, opts.inputs[0]);
  let meta: RunMeta;
  try {
    meta = JSON.parse(await fs.readFile(path.join(dir, RUN_FILE), 'utf8')) as RunMeta;
  } catch {
    io.stderr.write(`batch-prompt: ${dir} is not a run folder (no readable ${RUN_FILE}).\n`);
    return 1;
  }
  const refused = findingsOptionsProblem(opts, (meta.output as { kind?: string } | undefined)?.kind);
  if (refused) {
    io.stderr.write(`batch-prompt: ${refused}\n`);
    return 1;
  }
  const refusal = await resendRefusal(dir);
  if (refusal) {
    const { job } = refusal;
    io.stderr.write(`batch-prompt: run ${shown(meta.runId)} is batch job ${shown(job.jobId)} at ${shown(job.provider)}, not collected yet; use "batch-prompt collect" (resuming would send its chunks twice).\n`);
    return 1;
  }
  const m = meta.model ?? { id: '' };
  const provider = m.provider as ProviderKind;
  if (!PROVIDER_KINDS.includes(provider) || !m.model) {
    io.stderr.write(
      m.provider === 'vscode-lm'
        ? `batch-prompt: run ${shown(meta.runId)} used VS Code's Language Model API (${shown(m.id)}); resume it in VS Code with "Batch Prompt: Resume Run".\n`
        : `batch-prompt: ${RUN_FILE} of run ${shown(meta.runId)} does not say which endpoint it used (provider ${shown(m.provider ?? 'missing')}, model ${shown(m.model ?? 'missing')}).\n`,
    );
    return 1;
  }
  const tokenizer = tokenizerOf(meta);
  let configured: CliEndpoint[];
  try {
    configured = await configuredEndpoints(opts, io.env, io.cwd);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return 1;
  }
  // Each recorded endpoint goes on as the configured endpoint it matches (provider, origin, key
  // variable): that one's URL, key variable and headers, never the folder's. A several-endpoint run
  // goes on with the ones matched, as it does without an endpoint whose key is missing; none: refused.
  const recorded = endpointsOf(meta);
  const several = recorded.length > 1;
  for (const info of recorded) {
    if (!PROVIDER_KINDS.includes(info.provider as ProviderKind) || !info.model) {
      io.stderr.write(`batch-prompt: ${RUN_FILE} of run ${shown(meta.runId)} does not say how to reach its endpoint ${shown(info.id)} (provider ${shown(info.provider ?? 'missing')}, model ${shown(info.model ?? 'missing')}).\n`);
      return 1;
    }
  }
  const matches = recorded.map((info) => matchRecorded(info, configured));
  const optionFor = (info: RecordedEndpoint) => endpointOptionFor(info) ?? '--endpoint PROVIDER:MODEL@URL';
  const notConfigured = (info: RecordedEndpoint) => `batch-prompt: ${RUN_FILE} of run ${shown(meta.runId)} names the endpoint ${describeRecorded(info)}, which is not one you configured`;
  if (matches.every((c) => !c)) {
    const how = `batch-prompt resume ${opts.inputs[0]} ${recorded.map(optionFor).join(' ')} (or --config FILE).\n`;
    if (!several) io.stderr.write(`${notConfigured(recorded[0])}; nothing was sent. To resume on it, name it: ${how}`);
    else io.stderr.write(`${recorded.map((info) => `${notConfigured(info)}.\n`).join('')}batch-prompt: nothing was sent. To resume run ${shown(meta.runId)}, name its endpoints: ${how}`);
    return 1;
  }
  const recordedConcurrency = (meta.parameters as { maxConcurrency?: number } | undefined)?.maxConcurrency;
  const endpoints: RunEndpoint[] = [];
  const keyVars = new Map<string, string | undefined>();
  recorded.forEach((info, i) => {
    const c = matches[i];
    if (!c) {
      io.stderr.write(`${notConfigured(info)}; resuming without it (to resume on it too, add ${optionFor(info)}).\n`);
      return;
    }
    const kind = info.provider as ProviderKind;
    // Limits cannot move a key: the configured endpoint's when it sets them, else the run's.
    const limits = { maxConcurrency: c.maxConcurrency ?? info.maxConcurrency, requestsPerMinute: c.requestsPerMinute ?? info.requestsPerMinute, tokensPerMinute: c.tokensPerMinute ?? info.tokensPerMinute };
    const endpoint: EndpointConfig = { id: info.id, provider: kind, baseUrl: c.baseUrl, model: info.model!, contextWindow: c.contextWindow ?? info.contextWindow, maxOutputTokens: c.maxOutputTokens ?? info.maxOutputTokens, apiVersion: c.apiVersion ?? info.apiVersion, headers: c.headers };
    const model = missingHeaders(info, c, opts.config, io) ? undefined : selectModel(endpoint, tokenizer, io, { apiKeyEnv: c.apiKeyEnv, connections: opts.explicit.maxConcurrency ?? limits.maxConcurrency ?? recordedConcurrency });
    if (model) {
      endpoints.push({ model, info: definedOnly({ ...info, baseUrl: c.baseUrl, apiKeyEnv: c.apiKeyEnv, ...limits }) });
      keyVars.set(info.id, keyVarOf(kind, c.apiKeyEnv, io.env));
    } else if (several) io.stderr.write(`batch-prompt: resuming without the endpoint ${shown(info.id)}.\n`);
  });
  if (endpoints.length === 0) return 1;
  const model = endpoints[0].model;
  const progress = new ProgressDisplay(io, keyVars);
  let summary: RunSummary;
  try {
    // The run's files are read from this working folder only: a cloned run.json may name any folder.
    const roots = { allowed: [io.cwd], hint: `Run "batch-prompt resume" from the folder the run was made in, if you made it there.` };
    ({ summary } = await resumeRun(dir, { model, ...(meta.endpoints?.length ? { endpoints } : {}), tokenizer, parameters: parameterOverrides(opts.explicit), signal: io.signal, onEvent: (e) => progress.onEvent(e), cache: cacheOf(opts, io), roots }));
  } catch (e) {
    if (!RunLockedError.is(e) && !UntrustedRootError.is(e)) throw e;
    progress.end();
    io.stderr.write(`batch-prompt: ${e.message}\n`);
    return 1;
  }
  progress.end();
  const artifacts = await writeReport(dir, opts, summary, io);
  const code = finished(summary, dir, io, keyVars);
  await printProposals(dir, io);
  return ciOutcome(code, dir, opts, io, artifacts);
}
