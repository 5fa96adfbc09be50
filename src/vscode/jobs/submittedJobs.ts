import * as path from 'path';
import type { JobRecord } from '../../core/jobs/job';
import type { EndpointConfig } from '../../providers/endpoint';
import { findConfigured, identityOf } from '../../providers/endpointTrust';

/**
 * The provider batch jobs this VS Code profile submitted, kept in the extension's global state (issue
 * #12: a job is polled only when this profile submitted it, never because a `job.json` is present in
 * the workspace). No `vscode` import: unit-tested with a fake state.
 *
 * Each entry names the job, the endpoint it went to (id, provider and base URL origin, as chosen when
 * submitting) and its run folder. Polling matches the entry's endpoint, never the folder's, against
 * the user's endpoints; a folder whose `job.json` no longer names that job and endpoint is not polled.
 * Entries are removed once their job is collected (a canceled job too, once its results are in) or
 * their folder is gone.
 */
export interface SubmittedJob {
  jobId: string;
  /** The batch API's provider (`job.json`'s `provider`). */
  jobProvider: string;
  endpointId: string;
  /** The endpoint's provider and base URL origin when the job was submitted. */
  provider: string;
  origin: string;
  /** The run folder (absolute). */
  dir: string;
  submittedAt: string;
}

/** The part of `vscode.Memento` this needs. */
export interface StateLike {
  get<T>(key: string, defaultValue: T): T;
  update(key: string, value: unknown): Thenable<void>;
}

export const SUBMITTED_JOBS_KEY = 'batchPrompt.submittedJobs';
/** Entries kept at most (the oldest go first): a profile never runs this many jobs at once. */
const LIMIT = 200;

export class SubmittedJobs {
  constructor(private readonly state: StateLike) {}

  all(): SubmittedJob[] {
    const list = this.state.get<unknown>(SUBMITTED_JOBS_KEY, []);
    return Array.isArray(list) ? (list as SubmittedJob[]).filter((e) => e && typeof e.jobId === 'string' && typeof e.dir === 'string') : [];
  }

  /** Records a job just submitted to `endpoint` from the run folder `dir` (replacing an entry for that folder). */
  async add(dir: string, job: Pick<JobRecord, 'jobId' | 'provider' | 'endpointId' | 'submittedAt'>, endpoint: Pick<EndpointConfig, 'provider' | 'baseUrl'>): Promise<SubmittedJob> {
    const origin = identityOf(endpoint)?.origin;
    if (!origin) throw new Error(`The endpoint "${job.endpointId}" has no usable base URL.`);
    const entry: SubmittedJob = { jobId: job.jobId, jobProvider: job.provider, endpointId: job.endpointId, provider: endpoint.provider, origin, dir, submittedAt: job.submittedAt };
    await this.state.update(SUBMITTED_JOBS_KEY, [...this.all().filter((e) => e.dir !== dir), entry].slice(-LIMIT));
    return entry;
  }

  async remove(entry: Pick<SubmittedJob, 'dir' | 'jobId'>): Promise<void> {
    const all = this.all();
    const kept = all.filter((e) => !(e.dir === entry.dir && e.jobId === entry.jobId));
    if (kept.length !== all.length) await this.state.update(SUBMITTED_JOBS_KEY, kept);
  }

  /** The entries whose run folder is directly in `runsRoot` (this window's output folder). */
  in(runsRoot: string): SubmittedJob[] {
    return this.all().filter((e) => path.dirname(path.resolve(e.dir)) === path.resolve(runsRoot));
  }
}

/** Why `job` (read from the entry's folder) is not the job the entry recorded; undefined when it is. */
export function jobMismatch(entry: SubmittedJob, job: Pick<JobRecord, 'jobId' | 'provider' | 'endpointId'> | undefined): string | undefined {
  if (!job) return `${path.join(entry.dir, 'job.json')} is missing or unreadable`;
  if (job.jobId !== entry.jobId) return `${path.join(entry.dir, 'job.json')} names the job ${job.jobId}, not ${entry.jobId} submitted from this profile`;
  if (job.provider !== entry.jobProvider || job.endpointId !== entry.endpointId) {
    return `${path.join(entry.dir, 'job.json')} names the endpoint "${job.endpointId}" (${job.provider}), not "${entry.endpointId}" (${entry.jobProvider}) the job was submitted to`;
  }
  return undefined;
}

/** The user's endpoint the entry's job went to (same provider and origin, preferring the same id); undefined when there is none now. */
export function endpointOfEntry<T extends EndpointConfig>(entry: SubmittedJob, userModels: readonly T[]): T | undefined {
  return findConfigured({ id: entry.endpointId, provider: entry.provider, baseUrl: entry.origin }, userModels);
}
