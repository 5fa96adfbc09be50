import { promises as fs } from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { writeFileAtomic } from '../../util/atomicFile';
import { ARTIFACT_FILES, buildArtifacts, chunkFileOf, type ChunkText, type RunArtifacts } from '../output/artifacts';
import { TOOL_NAME, TOOL_VERSION } from '../output/sarif';
import { hashText } from '../plan/plan';
import { isEdit, isStructured } from '../output/spec';
import { EDIT_FILES, writeProposals } from '../output/edits';
import { PathGuard } from './pathGuard';
import { renderReport, type Prices } from './report';
import { PASSES_FILE, readPasses } from './passes';
import { readReduceState } from '../reduce/journal';
import { reduceShape } from '../reduce/answer';
import { readRecords, readRunMeta, readSummary, RUN_FILE, type RunMeta, type RunRecord, type RunSummary } from './runStore';

/** The report's name in a run folder. */
export const REPORT_FILE = 'report.md';

/**
 * Writes a run folder's `report.md` and, for a structured run (#14), its `findings.jsonl` and
 * `findings.sarif` or `results.jsonl` (and `results.csv`), for an edit run (#15) its `proposed/`,
 * `proposals.json` and `edits.patch`, each atomically and through the path guard,
 * from its `run.json`, `run.jsonl`, `chunks/` and summary (`summary.json` when none is given): the same
 * files after a run, a resume, a retry, a collected batch job or a merge, in the editor and on the
 * command line, rewritten whole from the folder's latest state. The folder is untrusted: its `run.json`
 * is checked, and a chunk output that cannot be read back is refused (`MalformedOutputError`) before
 * anything is written. Returns the artifacts (their findings, for the CLI's `--fail-on` and `--sarif`).
 */
export async function writeRunReport(dir: string, prices: Prices = {}, summary?: RunSummary): Promise<RunArtifacts> {
  const meta = await readRunMeta(dir);
  const s = summary ?? (await readSummary(dir));
  const records = await readRecords(dir, { check: true });
  const artifacts = await runArtifactsOf(dir, meta, records);
  // An edit run's proposals (#15): proposed/, proposals.json and edits.patch, from the folder's latest state.
  if (isEdit(meta.output)) artifacts.proposals = await writeProposals(dir, meta, records);
  const guard = new PathGuard(dir, 'the run folder');
  const write = async (name: string, text: string) => writeFileAtomic(await guard.resolve(name, RUN_FILE, name), text);
  for (const [name, text] of artifacts.files) await write(name, text);
  // A name this kind does not write (a csv whose schema no longer fits cannot happen, but a folder may hold stale ones) is left alone.
  // A reduce journal that cannot be read costs its section, never the report.
  const reduce = await readReduceState(dir).then((st) => st && reduceShape(st), () => undefined);
  // A history that cannot be read at all costs its section, never the report (bad lines are named in it).
  const history = await readPasses(dir).catch((e: unknown) => ({ passes: [], problems: [`${PASSES_FILE}: ${e instanceof Error ? e.message : String(e)}`] }));
  await write(REPORT_FILE, renderReport(meta, s, records, prices, artifacts, reduce, history));
  return artifacts;
}

/**
 * The artifacts of a run folder from its latest successful chunk outputs (the latest `run.jsonl` record
 * of each chunk of `run.json` says `succeeded`, and its `chunks/ID.out` is there), in run order.
 */
export async function runArtifactsOf(dir: string, meta: RunMeta, records?: readonly RunRecord[]): Promise<RunArtifacts> {
  const latest = new Map<string, RunRecord>();
  for (const r of records ?? (await readRecords(dir, { check: true }))) latest.set(r.chunkId, r);
  const chunks: ChunkText[] = [];
  if (isStructured(meta.output)) {
    for (const f of meta.files) {
      for (const c of f.chunks) {
        if (latest.get(c.id)?.status !== 'succeeded') continue;
        const text = await fs.readFile(path.join(dir, ...chunkFileOf(c.id).split('/')), 'utf8').catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return undefined;
          throw e;
        });
        if (text !== undefined) chunks.push({ path: f.path, chunkId: c.id, text });
      }
    }
  }
  return buildArtifacts(meta.output, chunks, { toolName: TOOL_NAME, toolVersion: TOOL_VERSION, rootUri: rootUriOf(meta.root), lineText: await lineTexts(meta) });
}

/** The run's root as a `file:` URI ending in `/` (SARIF's `originalUriBaseIds`); undefined when it is not an absolute path. */
function rootUriOf(root: unknown): string | undefined {
  if (typeof root !== 'string' || !path.isAbsolute(root)) return undefined;
  const uri = pathToFileURL(root).href;
  return uri.endsWith('/') ? uri : `${uri}/`;
}

/**
 * A line's text for the SARIF fingerprints, read from the run's files only while they hold the text the
 * run planned (same sha256 as recorded): a file edited since, or a root not on this machine, gives none.
 */
async function lineTexts(meta: RunMeta): Promise<((p: string, line: number) => string | undefined) | undefined> {
  if (!meta.output || meta.output.kind !== 'findings' || typeof meta.root !== 'string' || !path.isAbsolute(meta.root)) return undefined;
  const cache = new Map<string, string[] | undefined>();
  const hashes = new Map(meta.files.map((f) => [f.path, f.hash]));
  const load = async (p: string) => {
    const text = await fs.readFile(path.join(meta.root, ...p.split('/')), 'utf8').catch(() => undefined);
    cache.set(p, text !== undefined && hashText(text) === hashes.get(p) ? text.split(/\r?\n/) : undefined);
  };
  await Promise.all(meta.files.map((f) => load(f.path)));
  return (p, line) => cache.get(p)?.[line - 1];
}

/** Every name `writeRunReport` may write (for the folder checks). */
export const REPORT_FILES: readonly string[] = [REPORT_FILE, ...ARTIFACT_FILES, ...EDIT_FILES];
