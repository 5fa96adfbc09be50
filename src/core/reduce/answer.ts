/**
 * The reduce's answer file and the shape of its tree (#16), from its journal: what `answer.md` /
 * `answer.json` hold, and what the report and the front ends show (levels, groups, requests, tokens).
 */
import { decodeEntries, type OutputSpec } from '../output/spec';
import type { NotIncluded, ReduceState } from './journal';

/** One level of a reduce tree as it ran. */
export interface LevelShape {
  level: number;
  groups: number;
  /** Groups with an answer, and those that failed after their retries. */
  succeeded: number;
  failed: number;
  /** Requests sent for its groups (every attempt, across resumes). */
  requests: number;
  inputTokens: number;
  outputTokens: number;
  final: boolean;
}

export interface ReduceShape {
  prompt: string;
  levels: LevelShape[];
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** Level-0 inputs (files' results, or pieces of them). */
  inputs: number;
  /** Set once the reduce has ended. */
  status?: 'succeeded' | 'failed';
  file?: string;
  notIncluded: NotIncluded[];
  message?: string;
}

/** The shape of a reduce from its journal. */
export function reduceShape(state: ReduceState): ReduceShape {
  const levels = state.levels.map((l): LevelShape => {
    const s: LevelShape = { level: l.level, groups: l.groups.length, succeeded: 0, failed: 0, requests: 0, inputTokens: 0, outputTokens: 0, final: l.final };
    for (const g of l.groups) {
      const line = state.groups.get(g.id);
      if (line?.status === 'succeeded') s.succeeded++;
      else if (line?.status === 'failed') s.failed++;
      const u = state.usage.get(g.id);
      if (u) {
        s.requests += u.requests;
        s.inputTokens += u.inputTokens;
        s.outputTokens += u.outputTokens;
      }
    }
    return s;
  });
  const sum = (k: 'requests' | 'inputTokens' | 'outputTokens') => levels.reduce((n, l) => n + l[k], 0);
  return {
    prompt: state.prompt,
    levels,
    requests: sum('requests'),
    inputTokens: sum('inputTokens'),
    outputTokens: sum('outputTokens'),
    inputs: state.inputs?.inputs.length ?? 0,
    ...(state.answer ? { status: state.answer.status, ...(state.answer.file ? { file: state.answer.file } : {}), ...(state.answer.message ? { message: state.answer.message } : {}) } : {}),
    notIncluded: state.answer?.notIncluded ?? [],
  };
}

/** `src/a.ts lines 1-40: failed (transient: …)`. */
export function describeNotIncluded(n: NotIncluded): string {
  return `${n.path} lines ${n.lines}: ${n.reason}`;
}

/**
 * The answer file: for text, what is not included named at the top ("Not included: …"), then the
 * answer; for json, `{ "notIncluded": [...], "answer": <the value> }`. `recorded` is the final group's
 * recorded output (`encodeEntries` for json).
 */
export function renderAnswer(recorded: string, output: OutputSpec | undefined, notIncluded: readonly NotIncluded[], inputs: number): string {
  if (output) {
    const values = decodeEntries(recorded).map((e) => e.value);
    return `${JSON.stringify({ notIncluded, answer: values.length === 1 ? values[0] : values }, null, 2)}\n`;
  }
  const head = notIncluded.length
    ? `Not included (${notIncluded.length} result${notIncluded.length === 1 ? '' : 's'} missing from the ${inputs} combined):\n${notIncluded.map((n) => `- ${describeNotIncluded(n)}`).join('\n')}\n\n---\n\n`
    : '';
  return `${head}${recorded.trim()}\n`;
}
