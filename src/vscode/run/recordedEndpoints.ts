import type { EndpointInfo } from '../../core/store/runStore';
import type { EndpointConfig } from '../../providers/endpoint';
import { findConfigured, identityOf } from '../../providers/endpointTrust';

/**
 * Which of the user's endpoints a run folder's recorded endpoints stand for (issue #12: a run folder
 * never chooses an endpoint or a key). No `vscode` import: unit-tested in plain Node.
 *
 * A recorded endpoint matches a configured one with the same provider and base URL origin
 * (endpointTrust.ts findConfigured); the configured entry is what is used (its URL, headers and key),
 * never the folder's `baseUrl`. Language Model API runs (`vscode-lm`) are matched by the editor itself.
 */
export interface RecordedMatch {
  /** The configured endpoints to go on with, in the recorded order, each once. */
  matched: EndpointConfig[];
  /** Recorded endpoints no configured one stands for: nothing may be sent for them. */
  unmatched: EndpointInfo[];
}

export function matchRecorded(recorded: readonly EndpointInfo[], configured: readonly EndpointConfig[]): RecordedMatch {
  const matched: EndpointConfig[] = [];
  const unmatched: EndpointInfo[] = [];
  for (const r of recorded) {
    const c = findConfigured(r, configured);
    if (!c) unmatched.push(r);
    else if (!matched.includes(c)) matched.push(c);
  }
  return { matched, unmatched };
}

/** "openai at https://api.example.com", or what the folder says when it names no usable endpoint. */
export function describeRecorded(r: EndpointInfo): string {
  const identity = identityOf(r);
  if (identity?.origin) return `${identity.provider} at ${identity.origin}`;
  return r.provider ? `${r.provider}${r.baseUrl ? ', an unusable base URL' : ''}` : 'no provider';
}

/**
 * Why a run (or job) folder is refused: names each recorded endpoint's origin, says nothing was sent,
 * and what to do.
 */
export function refusalMessage(what: string, unmatched: readonly EndpointInfo[]): string {
  const list = unmatched.map((r) => `"${r.id}" (${describeRecorded(r)})`).join(', ');
  return `${what} names the endpoint${unmatched.length === 1 ? '' : 's'} ${list}, which ${unmatched.length === 1 ? 'is' : 'are'} not among your endpoints (your user settings' batchPrompt.models, or the Language Model API). Nothing was sent there.`;
}
