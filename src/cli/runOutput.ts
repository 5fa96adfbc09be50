import type { RunEvent } from '../core/execute/events';
import { ProgressTracker } from '../core/execute/progress';
import { describeEndpoints } from '../core/store/report';
import { describePass, planStoppedNote } from '../core/store/passes';
import { REPORT_FILE, writeRunReport } from '../core/store/runReport';
import type { RunSummary } from '../core/store/runStore';
import { countOf, formatDuration, formatNumber } from '../util/format';
import * as path from 'path';
import { Writable } from 'stream';
import { countAtOrAbove, FINDINGS_SARIF, severityCounts, type RunArtifacts } from '../core/output/artifacts';
import { SEVERITIES } from '../core/output/kind';
import { writeFileAtomic } from '../util/atomicFile';
import { EDITS_PATCH, PROPOSED_DIR, readProposals } from '../core/output/edits';
import { peekRunMeta } from '../core/store/runFolders';
import type { Io } from './io';
import { withKeyHint } from './keyHints';
import type { CliOptions } from './options';
import { shown } from './trust';

// What the CLI prints while a run goes and once it has ended (run, resume, collect), and the report it writes.

/** Prints the outcome of a run or a resume; the exit code. */
export function finished(summary: RunSummary, dir: string, io: Io, keyVars?: ReadonlyMap<string, string | undefined>): number {
  // A resume or retry first says what it did in its own scope; the counts after it are the whole run's.
  if (summary.pass && summary.pass.kind !== 'run') io.stdout.write(`${summary.pass.kind === 'retry' ? 'Retry' : 'Resume'} of ${summary.runId}: ${describePass(summary.pass)}\n`);
  const counts = `${summary.succeeded} succeeded${summary.cached ? ` (${summary.cached} from the cache)` : ''}, ${summary.failed} failed, ${summary.canceled} canceled`;
  // Nothing sent (every answer from the cache): no time worth saying.
  const took = summary.requests > 0 ? ` in ${formatDuration(summary.durationMs)}` : '';
  io.stdout.write(`Run ${summary.runId}: ${counts}${took} (${countOf(summary.requests, 'request')}, ${formatNumber(summary.inputTokens)} input / ${formatNumber(summary.outputTokens)} output tokens)\n`);
  for (const line of describeEndpoints(summary)) io.stdout.write(`${line}\n`);
  io.stdout.write(`Results: ${dir}\n`);
  if (summary.planStopped) io.stdout.write(`The run ended while it planned: ${planStoppedNote(summary.planStopped)} (batch-prompt resume ${dir}).\n`);
  const incomplete = summary.files.filter((f) => f.status === 'incomplete');
  if (incomplete.length) {
    io.stdout.write(`Incomplete files (${incomplete.length}): ${incomplete.slice(0, 10).map((f) => f.path).join(', ')}${incomplete.length > 10 ? ', …' : ''}; details in run.jsonl\n`);
  }
  if (summary.fatal) {
    // With one endpoint its refused key is the one to fix (several: each drop line named its own).
    const keyVar = keyVars?.size === 1 ? [...keyVars.values()][0] : undefined;
    io.stderr.write(`batch-prompt: ${withKeyHint(summary.fatal.message, summary.fatal.kind, keyVar, io.env)}\n`);
    return 1;
  }
  return summary.failed + summary.canceled > 0 ? 2 : 0;
}

/**
 * The run folder's report.md and, for a structured run, its findings or results files, as the editor
 * writes them; ones that cannot be written cost a warning, never the run (undefined then).
 */
export async function writeReport(dir: string, opts: CliOptions, summary: RunSummary, io: Io): Promise<RunArtifacts | undefined> {
  try {
    return await writeRunReport(dir, { inputCostPerMTok: opts.inputCostPerMTok, outputCostPerMTok: opts.outputCostPerMTok }, summary);
  } catch (e) {
    io.stderr.write(`batch-prompt: could not write ${REPORT_FILE}: ${e instanceof Error ? e.message : String(e)}\n`);
    return undefined;
  }
}

/**
 * An edit run's outcome (#15), after its summary: how many files have a proposal, where the patch and the
 * proposed files are, the files without one and why, and how to apply. Nothing for other kinds. Never
 * changes the exit code (a run folder whose proposals cannot be read is said on stderr).
 */
export async function printProposals(dir: string, io: Io): Promise<void> {
  const meta = await peekRunMeta(dir);
  if (meta?.output?.kind !== 'edit') return;
  let files;
  try {
    ({ files } = await readProposals(dir));
  } catch (e) {
    io.stderr.write(`batch-prompt: the proposals of ${dir} cannot be read: ${e instanceof Error ? e.message : String(e)}\n`);
    return;
  }
  const count = (s: string) => files.filter((f) => f.status === s).length;
  const proposed = count('proposed');
  io.stdout.write(`Proposed edits: ${proposed} file${proposed === 1 ? '' : 's'} (${count('unchanged')} unchanged, ${count('incomplete')} incomplete, ${count('skipped')} skipped); none of your files was written.\n`);
  for (const f of files) {
    if (f.status === 'incomplete' || f.status === 'skipped') io.stdout.write(`  ${f.status} ${shown(f.path)}: ${shown(f.reason ?? '')}\n`);
    else if (f.status === 'proposed' && f.suspicious?.length) io.stdout.write(`  suspicious ${shown(f.path)}: ${shown(f.suspicious.map((p) => `lines ${p.startLine}-${p.endLine} ${p.note}`).join('; '))}\n`);
  }
  if (!proposed) return;
  const shownDir = path.relative(io.cwd, dir) || '.';
  io.stdout.write(`Patch: ${path.join(dir, EDITS_PATCH)}\nProposed files: ${path.join(dir, PROPOSED_DIR)}${path.sep}\nReview the patch, then apply it: batch-prompt apply ${shownDir.includes(' ') ? JSON.stringify(shownDir) : shownDir}\n`);
}

/** Exit code 4: `--fail-on` found findings at or above its severity. */
export const EXIT_FINDINGS = 4;

/**
 * `--sarif FILE` and `--fail-on SEVERITY` once a run, resume, collect or merge is recorded: the SARIF
 * copied where CI wants it (atomically), and the exit code: 1 stays 1; findings at or above the
 * severity make it 4 (over 2); a run whose findings cannot be known (not a findings run, or its files
 * could not be written) with either option is 1, said on stderr.
 */
export async function ciOutcome(code: number, dir: string, opts: CliOptions, io: Io, artifacts: RunArtifacts | undefined): Promise<number> {
  if (opts.sarif === undefined && opts.failOn === undefined) return code;
  const flags = [opts.sarif !== undefined ? '--sarif' : '', opts.failOn !== undefined ? '--fail-on' : ''].filter(Boolean).join(' and ');
  const sarif = artifacts?.files.get(FINDINGS_SARIF);
  if (!artifacts || sarif === undefined || !artifacts.findings) {
    const why = artifacts ? `run ${dir} is not a findings run (--output findings)` : `the findings of ${dir} could not be read (see above)`;
    io.stderr.write(`batch-prompt: ${flags}: ${why}; exit code 1.\n`);
    return 1;
  }
  if (opts.sarif !== undefined) {
    const target = path.resolve(io.cwd, opts.sarif);
    try {
      await writeFileAtomic(target, sarif);
      io.stdout.write(`SARIF: ${target}\n`);
    } catch (e) {
      io.stderr.write(`batch-prompt: could not write --sarif ${target}: ${e instanceof Error ? e.message : String(e)}\n`);
      return 1;
    }
  }
  const counts = severityCounts(artifacts.findings);
  io.stdout.write(`Findings: ${artifacts.findings.length} (${SEVERITIES.map((s) => `${counts[s]} ${s}`).join(', ')})\n`);
  if (code === 1 || opts.failOn === undefined) return code;
  const over = countAtOrAbove(artifacts.findings, opts.failOn);
  if (!over) return code;
  io.stderr.write(`batch-prompt: ${over} finding${over === 1 ? '' : 's'} at or above ${opts.failOn} (--fail-on ${opts.failOn}); exit code ${EXIT_FINDINGS}.\n`);
  return EXIT_FINDINGS;
}

/** Refuses `--fail-on`/`--sarif` before anything is sent when the run's kind is known not to be findings. */
export function findingsOptionsProblem(opts: CliOptions, kind: string | undefined): string | undefined {
  if ((opts.sarif === undefined && opts.failOn === undefined) || kind === 'findings') return undefined;
  return `${opts.sarif !== undefined ? '--sarif' : '--fail-on'} needs a findings run (--output findings, or "output: findings" in the prompt file); this one's output is ${kind ?? 'text'}.`;
}

/** `--quiet` (#16): the streams with stdout kept for the combined answer alone (what else a command prints goes nowhere). */
export function quietIo(opts: Pick<CliOptions, 'quiet'>, io: Io): Io {
  if (!opts.quiet) return io;
  return { ...io, stdout: new Writable({ write: (_c, _e, done) => done() }) };
}

/** A redrawn bar on a terminal; one line per finished request otherwise. */
export class ProgressDisplay {
  private readonly tracker = new ProgressTracker();
  private lastDraw = 0;

  constructor(
    private readonly io: Io,
    private readonly keyVars: ReadonlyMap<string, string | undefined> = new Map(),
    /** `--quiet`: only an endpoint dropped is said. */
    private readonly quiet = false,
  ) {}

  onEvent(e: RunEvent): void {
    this.tracker.update(e);
    if (this.quiet) {
      if (e.type === 'endpoint-dropped') this.io.stderr.write(`batch-prompt: endpoint ${e.endpoint} dropped for the rest of the run (${e.reason.kind}: ${withKeyHint(e.reason.message, e.reason.kind, this.keyVars.get(e.endpoint), this.io.env)})\n`);
      return;
    }
    if (e.type === 'endpoint-dropped') {
      this.io.stderr.write(`${this.io.stderr.isTTY ? '\r\x1b[K' : ''}batch-prompt: endpoint ${e.endpoint} dropped for the rest of the run (${e.reason.kind}: ${withKeyHint(e.reason.message, e.reason.kind, this.keyVars.get(e.endpoint), this.io.env)}); ${e.remaining} left${e.others.length ? `: ${e.others.join(', ')}` : ''}\n`);
    }
    if (this.io.stderr.isTTY) {
      const now = Date.now();
      if (now - this.lastDraw > 100 || e.type === 'run-finished') {
        this.lastDraw = now;
        const t = this.tracker;
        const width = 24;
        const filled = t.total ? Math.round((t.done / t.total) * width) : 0;
        this.io.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${t.describe()}`);
      }
      return;
    }
    if (e.type === 'batch-finished') {
      const what = e.ok ? `ok, ${e.inputTokens}→${e.outputTokens} tokens` : `failed: ${e.error?.kind}`;
      this.io.stderr.write(`${e.batchId} (${e.chunkIds.length} chunk${e.chunkIds.length === 1 ? '' : 's'})${e.endpoint ? ` on ${e.endpoint}` : ''} ${what} in ${formatDuration(e.latencyMs)} · ${this.tracker.describe()}\n`);
    } else if (e.type === 'retry-scheduled') {
      // `attempt` numbers the coming send (the first send is attempt 1), so it is retry `attempt - 1`.
      this.io.stderr.write(`${e.batchId}: ${e.reason}, retry ${e.attempt - 1} (attempt ${e.attempt}) in ${formatDuration(e.delayMs)}\n`);
    }
  }

  end(): void {
    if (this.io.stderr.isTTY && !this.quiet) this.io.stderr.write('\n');
  }
}

/**
 * `--stream`: each reply's text on stdout as it arrives, under a `── batch ──` line whenever the text
 * of another request (or a new attempt of the same one) begins. Requests in flight interleave there;
 * the run folder has each chunk's output whole.
 */
export class StreamPrinter {
  private current?: string;
  private atLineStart = true;

  constructor(private readonly io: Io) {}

  onEvent(e: RunEvent): void {
    if (e.type === 'batch-started' && e.batchId === this.current) this.current = undefined;
  }

  onText(batchId: string, delta: string): void {
    if (batchId !== this.current) {
      this.io.stdout.write(`${this.atLineStart ? '' : '\n'}── ${batchId} ──\n`);
      this.current = batchId;
    }
    this.io.stdout.write(delta);
    this.atLineStart = delta.endsWith('\n');
  }

  end(): void {
    if (!this.atLineStart) this.io.stdout.write('\n');
  }
}
