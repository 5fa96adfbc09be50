import type { BudgetSummary } from './budget';
import type { ErrorKind } from './errors';
import type { WaitReason } from './rateLimit';
import type { ChunkRef, ChunkStatus } from '../plan/types';

/** How one chunk ended. Exactly one per chunk of a run. */
export interface ChunkOutcome {
  readonly chunk: ChunkRef;
  readonly status: ChunkStatus;
  /** The model's output, for `succeeded` only. */
  readonly output?: string;
  readonly error?: { kind: ErrorKind; message: string };
  /** Requests this chunk was part of. */
  readonly attempts: number;
  /** The request that produced the outcome (a split or a retry gets an id of its own). */
  readonly batchId: string;
  /** This chunk's share of the request's reported usage. */
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly latencyMs: number;
  /** Taken from the result cache instead of the model (0 tokens, 0 attempts). */
  readonly cached?: boolean;
  /** Id of the endpoint that served the request (set when the run has several endpoints). */
  readonly endpoint?: string;
  /** Milliseconds from sending the request to its first streamed text (streamed requests only). */
  readonly firstTokenMs?: number;
  /** An `invalid-output` failure: the raw reply text for the chunk (kept as `invalid/<chunk id>.txt`). */
  readonly rawReply?: string;
  /** Edit runs (#15): `['suspicious']` when the rewritten part shrank to under half its lines or to nothing. */
  readonly flags?: string[];
  /** Why the flags were set. */
  readonly note?: string;
}

/** The progress of a run, as a typed stream: enough for a progress bar with an ETA and a log. */
export type RunEvent =
  /** `planning`: the run sends while it plans (core/session `runPlanning`): `chunks` and `batches` are those planned so far. */
  | { type: 'run-started'; chunks: number; batches: number; concurrency: number; planning?: true }
  /** A run that sends while it plans: a file was planned (totals so far). */
  | { type: 'planning'; files: number; chunks: number; batches: number }
  /** A run that sends while it plans: the plan is complete, these are the run's totals. */
  | { type: 'plan-finished'; files: number; chunks: number; batches: number }
  | { type: 'batch-started'; batchId: string; chunkIds: string[]; tokens: number; attempt: number; endpoint?: string }
  | {
      type: 'batch-finished';
      batchId: string;
      chunkIds: string[];
      ok: boolean;
      tokens: number;
      inputTokens: number;
      outputTokens: number;
      latencyMs: number;
      error?: { kind: ErrorKind; message: string };
      /** The endpoint that served it (set when the run has several). */
      endpoint?: string;
      /** Milliseconds from sending to the first streamed text (a streamed request that got a reply). */
      firstTokenMs?: number;
    }
  | { type: 'chunk-finished'; outcome: ChunkOutcome }
  /** `attempt` is the number of the send to come (1 is the first send), at most `maxRetries + 1`: retry `attempt - 1`. */
  | { type: 'retry-scheduled'; batchId: string; chunkIds: string[]; delayMs: number; reason: ErrorKind; attempt: number; /** The HTTP status of the failed reply, when it had one. */ status?: number }
  | { type: 'batch-split'; batchId: string; into: string[]; reason: ErrorKind }
  | { type: 'concurrency-changed'; from: number; to: number; reason: 'rate-limited' | 'recovered'; endpoint?: string }
  | { type: 'waiting'; delayMs: number; reason: WaitReason; endpoint?: string }
  /** An endpoint of a several-endpoint run was taken out of the rotation; its work goes to the `remaining` others (ids in `others`). */
  | { type: 'endpoint-dropped'; endpoint: string; reason: { kind: ErrorKind; message: string }; remaining: number; others: string[] }
  | { type: 'reply-warning'; batchId: string; message: string }
  | { type: 'run-finished'; summary: ExecutionSummary };

export interface ExecutionSummary {
  succeeded: number;
  failed: number;
  canceled: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  durationMs: number;
  /** Set when an error no retry can fix ended the run early. */
  fatal?: { kind: ErrorKind; message: string };
  /** Per endpoint of a several-endpoint run (in the order named): requests, tokens, failures, latency, dropped. */
  endpoints?: EndpointSummary[];
  /** A run with a spend cap (#17): the cap, the run's spend (earlier invocations included) and whether it was reached. */
  budget?: BudgetSummary;
}

/** What a run's summary says about one endpoint. */
export interface EndpointSummary {
  id: string;
  /** Requests sent to it (failed ones included). */
  requests: number;
  /** Requests that failed (any error but a cancel). */
  failures: number;
  inputTokens: number;
  outputTokens: number;
  /** Mean latency of its requests that got a reply, in ms (0 before any). */
  meanLatencyMs: number;
  /** Set when it was taken out of the rotation, with why. */
  dropped?: { kind: ErrorKind; message: string };
}
