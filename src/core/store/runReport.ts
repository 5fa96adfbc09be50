import { promises as fs } from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../../util/atomicFile';
import { renderReport, type Prices } from './report';
import { readRecords, readSummary, RUN_FILE, type RunMeta, type RunSummary } from './runStore';

/** The report's name in a run folder. */
export const REPORT_FILE = 'report.md';

/**
 * Writes a run folder's `report.md` (atomically) from its `run.json`, `run.jsonl` and summary
 * (`summary.json` when none is given): the same report after a run, a resume, a collected batch job,
 * in the editor and on the command line.
 */
export async function writeRunReport(dir: string, prices: Prices = {}, summary?: RunSummary): Promise<void> {
  const meta = JSON.parse(await fs.readFile(path.join(dir, RUN_FILE), 'utf8')) as RunMeta;
  const s = summary ?? (await readSummary(dir));
  await writeFileAtomic(path.join(dir, REPORT_FILE), renderReport(meta, s, await readRecords(dir), prices));
}
