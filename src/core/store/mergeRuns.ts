import { promises as fs } from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../../util/atomicFile';
import { canonicalJson } from '../output/spec';
import type { ExecutionSummary } from '../execute/events';
import type { ChunkRef } from '../plan/types';
import { chunkFileOf } from '../output/artifacts';
import { PathGuard } from './pathGuard';
import { checkRunFolder, invalidReplyPathOf, readRecords, readSummary, RECORDS_FILE, RUN_FILE, runLockHolder, RunStore, type RunMeta, type RunRecord, type RunSummary } from './runStore';

/** Why shard folders cannot be merged: names the folder and what differs or repeats. Nothing was written. */
export class MergeError extends Error {
  override readonly name = 'MergeError';
  static is(e: unknown): e is MergeError {
    return e instanceof MergeError;
  }
}

/** What must be the same in every shard for one run to come of them. */
const SAME: readonly { what: string; of: (m: RunMeta) => unknown }[] = [
  { what: 'prompt', of: (m) => m.prompt },
  { what: 'model', of: (m) => ({ id: m.model?.id, provider: m.model?.provider, model: m.model?.model }) },
  { what: 'output kind and schema', of: (m) => m.output ?? { kind: 'text' } },
  { what: 'encoding', of: (m) => m.encoding },
  { what: 'protocol version', of: (m) => m.protocolVersion },
];

/**
 * Merges the run folders of a sharded run (`--shard K/N`) into a new run folder `out`: `run.json` with
 * every shard's files, in path order (code units, as a run lists them), `run.jsonl` with every shard's
 * records, `chunks/` (and `invalid/`) of each chunk, then `outputs/` and `summary.json` as a run writes
 * them. Chunk ids are renumbered the way one unsharded run numbers them: `FILE.CHUNK`, the file's
 * 1-based place in the merged list and the chunk's in its file; so a merge of every shard has the ids
 * the run without shards would have had.
 *
 * Every input folder is untrusted: checked whole (`checkRunFolder`) before anything is written, and
 * refused while a live process writes it. Refused (`MergeError`) when the shards differ in prompt,
 * model, output or encoding, when a folder is named twice, when a file is in two shards (a chunk
 * recorded twice), or when a record names a chunk its `run.json` does not hold. The caller writes the
 * report and artifacts (`writeRunReport`).
 */
export async function mergeRuns(out: string, dirs: readonly string[], now: () => Date = () => new Date()): Promise<{ summary: RunSummary; meta: RunMeta }> {
  if (!dirs.length) throw new MergeError('Name at least one run folder to merge.');
  const shards: { dir: string; meta: RunMeta; records: RunRecord[]; summary?: RunSummary }[] = [];
  const real = new Map<string, string>();
  for (const dir of dirs) {
    const r = await fs.realpath(dir).catch(() => path.resolve(dir));
    if (real.has(r)) throw new MergeError(`${dir} is named twice (as ${real.get(r)} too): each shard is merged once.`);
    real.set(r, dir);
    await fs.access(path.join(dir, RUN_FILE)).catch(() => {
      throw new MergeError(`${dir} is not a run folder (no ${RUN_FILE}).`);
    });
    const meta = await checkRunFolder(dir);
    const holder = await runLockHolder(dir);
    if (holder) throw new MergeError(`${dir} is being written by process ${holder.pid}; merge it once that run has ended.`);
    shards.push({ dir, meta, records: await readRecords(dir, { check: true }), summary: await readSummary(dir).catch(() => undefined) });
  }
  const outReal = await fs.realpath(out).catch(() => path.resolve(out));
  if (real.has(outReal)) throw new MergeError(`${out} is one of the folders to merge; name a new folder to merge into.`);

  const first = shards[0];
  for (const s of shards.slice(1)) {
    for (const { what, of } of SAME) {
      if (canonicalJson(of(s.meta)) !== canonicalJson(of(first.meta))) throw new MergeError(`${s.dir} has another ${what} than ${first.dir}: only shards of one run can be merged.`);
    }
  }

  // Files in path order; a file in two shards is a chunk recorded twice.
  const files: { shard: (typeof shards)[number]; file: RunMeta['files'][number] }[] = [];
  const owner = new Map<string, string>();
  for (const s of shards) {
    for (const f of s.meta.files) {
      const other = owner.get(f.path);
      if (other !== undefined) throw new MergeError(`${f.path} is in ${other} and in ${s.dir}: a file (and its chunks) may be recorded by one shard only.`);
      owner.set(f.path, s.dir);
      files.push({ shard: s, file: f });
    }
  }
  files.sort((a, b) => (a.file.path < b.file.path ? -1 : a.file.path > b.file.path ? 1 : 0));

  const rename = new Map<(typeof shards)[number], Map<string, ChunkRef & { newId: string }>>();
  for (const s of shards) rename.set(s, new Map());
  const mergedFiles: RunMeta['files'] = files.map(({ shard, file }, i) => ({
    path: file.path,
    hash: file.hash,
    chunks: file.chunks.map((c, j) => {
      const newId = `${i + 1}.${j + 1}`;
      rename.get(shard)!.set(c.id, { ...c, newId });
      return { ...c, id: newId };
    }),
  }));
  const records: RunRecord[] = [];
  for (const s of shards) {
    const ids = rename.get(s)!;
    s.records.forEach((r, line) => {
      const c = ids.get(r.chunkId);
      if (!c || c.path !== r.path) throw new MergeError(`${path.join(s.dir, RECORDS_FILE)}: line ${line + 1} records chunk ${JSON.stringify(r.chunkId)} of ${JSON.stringify(r.path)}, which its ${RUN_FILE} does not hold.`);
      records.push({ ...r, chunkId: c.newId });
    });
  }

  const meta: RunMeta = {
    ...first.meta,
    runId: `${path.basename(path.resolve(out))}`,
    createdAt: now().toISOString(),
    files: mergedFiles,
  };
  const store = await RunStore.create(out, meta);
  const guard = new PathGuard(out, 'the merged run folder');
  try {
    for (const s of shards) {
      const latest = new Map<string, RunRecord>();
      for (const r of s.records) latest.set(r.chunkId, r);
      for (const [oldId, c] of rename.get(s)!) {
        for (const sub of ['chunks', 'invalid'] as const) {
          if (sub === 'chunks' && latest.get(oldId)?.status !== 'succeeded') continue;
          const from = sub === 'chunks' ? path.join(s.dir, ...chunkFileOf(oldId).split('/')) : invalidReplyPathOf(s.dir, oldId);
          const text = await readIfThere(from);
          if (text === undefined) continue;
          const rel = sub === 'chunks' ? chunkFileOf(c.newId) : path.relative(out, invalidReplyPathOf(out, c.newId)).split(path.sep).join('/');
          await writeFileAtomic(await guard.resolve(rel, RUN_FILE, rel), text);
        }
      }
    }
    await writeFileAtomic(await guard.resolve(RECORDS_FILE, RECORDS_FILE, RECORDS_FILE), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  } finally {
    await store.release();
  }
  // Reopened as a resume would: outputs/ of every file whose chunks have all ended, then summary.json.
  const merged = await RunStore.openForUpdate(out);
  let summary: RunSummary;
  try {
    summary = await merged.finish(executionOf(shards.map((s) => s.summary)));
  } finally {
    await merged.release();
  }
  return { summary, meta };
}

/** The shards' requests and tokens added up; the duration of the longest (they ran side by side); the first fatal error. */
function executionOf(summaries: readonly (RunSummary | undefined)[]): ExecutionSummary {
  const e: ExecutionSummary = { succeeded: 0, failed: 0, canceled: 0, requests: 0, inputTokens: 0, outputTokens: 0, durationMs: 0 };
  for (const s of summaries) {
    if (!s) continue;
    e.requests += num(s.requests);
    e.inputTokens += num(s.inputTokens);
    e.outputTokens += num(s.outputTokens);
    e.durationMs = Math.max(e.durationMs, num(s.durationMs));
    if (s.fatal && !e.fatal && typeof s.fatal.message === 'string') e.fatal = { kind: s.fatal.kind, message: s.fatal.message };
  }
  return e;
}

function num(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0;
}

/** A shard's file, or undefined when it is not there; a link is refused (it could copy a file from anywhere into the merged folder). */
async function readIfThere(file: string): Promise<string | undefined> {
  try {
    if ((await fs.lstat(file)).isSymbolicLink()) throw new MergeError(`${file} is a link; a shard's chunk files must be plain files.`);
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
