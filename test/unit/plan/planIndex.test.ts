// The plan index (#17): a file unchanged since a plan read it (same size, times, inode, device; not
// racy) is planned without being read, from the plan cache; a changed file is read and chunked again.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectFiles } from '../../../src/core/input/files';
import { describePlanCounts, ParallelPlanner } from '../../../src/core/plan/parallelPlan';
import { createPlan, hashText, type Plan, type PlanOptions } from '../../../src/core/plan/plan';
import { PlanCache } from '../../../src/core/plan/planCache';
import { PlanIndex, RACY_MS } from '../../../src/core/plan/planIndex';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { FileSignature, SourceFile } from '../../../src/core/plan/types';
import type { ChatModel, ChatRequest, ChatResponse } from '../../../src/core/execute/model';
import { runPlanning } from '../../../src/core/session/planning';
import { corpusSample } from '../../support/editCorpus';
import { chunksOf, taggedReply } from '../../support/scriptedModel';
import { runCli, testCacheHome } from '../../support/cli';

const HASH = 'a'.repeat(64);
const SIG: FileSignature = [120, 1_000_000, 1_000_500, 42, 7];

describe('the plan index (#17)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'bp-planindex-')));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  describe('PlanIndex', () => {
    const root = '/work/project';
    async function saved(rows: [string, FileSignature, string, number][], startedAt = 2_000_000): Promise<void> {
      const index = await PlanIndex.open(dir, root, startedAt);
      for (const [rel, sig, hash, chars] of rows) index.record(rel, sig, hash, chars);
      await index.save();
    }

    it('knows a file by exactly its signature, recorded before the plan started by more than the racy margin', async () => {
      await saved([['a.ts', SIG, HASH, 100]]);
      const index = await PlanIndex.open(dir, root, 3_000_000);
      assert.deepStrictEqual(index.lookup('a.ts', SIG), { hash: HASH, chars: 100 });
      for (let i = 0; i < 5; i++) {
        const other = [...SIG] as FileSignature;
        other[i] += 1;
        assert.strictEqual(index.lookup('a.ts', other), undefined, `signature field ${i} changed`);
      }
      assert.strictEqual(index.lookup('b.ts', SIG), undefined, 'a path not recorded');
      for (const name of ['__proto__', 'constructor', 'toString']) assert.strictEqual(index.lookup(name, SIG), undefined, name);
    });

    it('does not know a file modified, or its metadata changed, within the racy margin of the plan that read it', async () => {
      const startedAt = 2_000_000;
      await saved([
        ['old.ts', [1, startedAt - RACY_MS - 1, startedAt - RACY_MS - 1, 1, 1], HASH, 1],
        ['mtime.ts', [1, startedAt - RACY_MS, startedAt - 10 * RACY_MS, 2, 1], HASH, 1],
        ['ctime.ts', [1, startedAt - 10 * RACY_MS, startedAt + 5, 3, 1], HASH, 1],
      ], startedAt);
      const index = await PlanIndex.open(dir, root, startedAt + 60_000);
      assert.deepStrictEqual(index.lookup('old.ts', [1, startedAt - RACY_MS - 1, startedAt - RACY_MS - 1, 1, 1]), { hash: HASH, chars: 1 });
      assert.strictEqual(index.lookup('mtime.ts', [1, startedAt - RACY_MS, startedAt - 10 * RACY_MS, 2, 1]), undefined);
      assert.strictEqual(index.lookup('ctime.ts', [1, startedAt - 10 * RACY_MS, startedAt + 5, 3, 1]), undefined);
    });

    it('keeps only what this plan read or knew, and ignores a malformed, foreign or forged index', async () => {
      await saved([['a.ts', SIG, HASH, 100], ['b.ts', SIG, HASH, 100]]);
      const index = await PlanIndex.open(dir, root, 3_000_000);
      assert.ok(index.lookup('a.ts', SIG));
      index.record('c.ts', SIG, HASH, 5);
      await index.save();
      const next = await PlanIndex.open(dir, root, 4_000_000);
      assert.ok(next.lookup('a.ts', SIG), 'known, so kept');
      assert.ok(next.lookup('c.ts', SIG), 'read, so recorded');
      assert.strictEqual(next.lookup('b.ts', SIG), undefined, 'neither read nor known by the last plan: dropped');

      const file = PlanIndex.fileOf(dir, root);
      const good = JSON.parse(await fs.readFile(file, 'utf8'));
      const row = good.files['a.ts'];
      const forged: [string, unknown][] = [
        ['not JSON', '{"v":1'],
        ['another format', { ...good, v: 2 }],
        ['another root', { ...good, root: '/elsewhere' }],
        ['no start time', { ...good, startedAt: 'x' }],
        ['files not an object', { ...good, files: [row] }],
        ['a short row', { ...good, files: { 'a.ts': row.slice(0, 6) } }],
        ['a hash that is no sha256', { ...good, files: { 'a.ts': [...row.slice(0, 5), 'A'.repeat(64), 100] } }],
        ['a length of 0', { ...good, files: { 'a.ts': [...row.slice(0, 6), 0] } }],
        ['a fractional length', { ...good, files: { 'a.ts': [...row.slice(0, 6), 1.5] } }],
        ['a signature of strings', { ...good, files: { 'a.ts': [...row.slice(0, 5).map(String), ...row.slice(5)] } }],
      ];
      for (const [what, content] of forged) {
        await fs.writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
        assert.strictEqual((await PlanIndex.open(dir, root, 5_000_000)).lookup('a.ts', SIG), undefined, what);
      }
    });

    it('keeps the 32 most recently written indexes', async () => {
      for (let i = 0; i < 34; i++) {
        const index = await PlanIndex.open(dir, `/root/${i}`, 1_000);
        index.record('a.ts', SIG, HASH, 1);
        await index.save();
        const t = new Date(1_000_000 + i * 1000);
        await fs.utimes(PlanIndex.fileOf(dir, `/root/${i}`), t, t);
      }
      const left = await fs.readdir(dir);
      assert.strictEqual(left.length, 32);
      assert.ok(!left.includes(path.basename(PlanIndex.fileOf(dir, '/root/0'))), 'the oldest went');
      assert.ok(!left.includes(path.basename(PlanIndex.fileOf(dir, '/root/1'))));
      assert.ok(left.includes(path.basename(PlanIndex.fileOf(dir, '/root/33'))));
    });
  });

  describe('planning from disk with the index', () => {
    const tokenizer = getTokenizer();
    const options: PlanOptions = { prompt: 'Review.', tokenizer, chunk: { chunkTokens: 400, overlapTokens: 40 }, pack: { chunksPerBatch: 3, maxBatchTokens: 4096 } };
    const files: SourceFile[] = corpusSample(12).map((f, i) => ({ path: `src/${String(i).padStart(2, '0')}.ts`, text: f.text }));
    /** The plans below start this long after the files were written: they are not racy for them. */
    const later = () => Date.now() + 10 * RACY_MS;

    let root: string;
    let cacheDir: string;
    beforeEach(async () => {
      root = path.join(dir, 'work');
      cacheDir = path.join(dir, 'cache', 'plans');
      for (const f of files) {
        await fs.mkdir(path.dirname(path.join(root, f.path)), { recursive: true });
        await fs.writeFile(path.join(root, f.path), f.text);
      }
    });

    /** Plans `root` as the CLI does; returns the plan, where files were chunked, and the paths handed on read and unread. */
    async function planDisk(clock: () => number, opts: PlanOptions = options): Promise<{ plan: Plan; counts: ParallelPlanner['counts']; read: string[]; unread: string[] }> {
      const planner = new ParallelPlanner(opts, { cache: new PlanCache(cacheDir, { clock }) });
      const read: string[] = [];
      const unread: string[] = [];
      const known = planner.known!;
      await collectFiles(['.'], { cwd: root, known, onFile: (f) => (('text' in f ? read : unread).push(f.path), planner.add(f)) });
      return { plan: await planner.finish(), counts: planner.counts, read, unread };
    }

    it('plans an unchanged folder without reading a file, to the in-thread plan; a file changed by one byte (its time put back) is read and chunked again', async () => {
      const expected = createPlan(files, options);
      // Whole seconds, so that the time can be put back exactly after the edit below.
      const k = 5;
      const file = path.join(root, files[k].path);
      const t = Math.floor(Date.now() / 1000) - 3600;
      await fs.utimes(file, t, t);
      const cold = await planDisk(later);
      assert.deepStrictEqual(cold.plan, expected);
      assert.strictEqual(cold.read.length, files.length);

      const warm = await planDisk(later);
      assert.deepStrictEqual(warm.unread, files.map((f) => f.path), 'every file known unread');
      assert.deepStrictEqual(warm.read, []);
      assert.deepStrictEqual(warm.counts, { cached: files.length, inThread: 0, pooled: 0, unread: files.length });
      assert.match(describePlanCounts(warm.counts, 1), new RegExp(`${files.length} from the plan cache \\(${files.length} of them unchanged since the last plan, not read\\)`));
      assert.deepStrictEqual(warm.plan, expected);

      // One byte changed in place, the same size, its modification time put back: its change time moved.
      const before = await fs.stat(file);
      const old = files[k].text;
      const i = old.indexOf('e', old.length >> 1);
      const text = old.slice(0, i) + 'E' + old.slice(i + 1);
      await fs.writeFile(file, text);
      await fs.utimes(file, t, t);
      const after = await fs.stat(file);
      assert.strictEqual(after.mtimeMs, before.mtimeMs);
      assert.strictEqual(after.size, before.size);
      const changed = files.map((f, j) => (j === k ? { path: f.path, text } : f));
      const edited = await planDisk(later);
      assert.deepStrictEqual(edited.read, [files[k].path], 'only the changed file read');
      assert.deepStrictEqual(edited.counts, { cached: files.length - 1, inThread: 1, pooled: 0, unread: files.length - 1 });
      assert.deepStrictEqual(edited.plan, createPlan(changed, options));
      assert.notStrictEqual(edited.plan.files[k].hash, expected.files[k].hash);
    });

    it('reads every file when the last plan started within the racy margin of their times, and a file it knows whose chunking is not cached for these parameters', async () => {
      await planDisk(Date.now);
      const racy = await planDisk(Date.now);
      assert.deepStrictEqual(racy.unread, [], 'written just before the plan that read them: maybe changed unseen since');
      assert.strictEqual(racy.read.length, files.length);

      await planDisk(later);
      const other: PlanOptions = { ...options, chunk: { chunkTokens: 300, overlapTokens: 30 } };
      const otherPlan = await planDisk(later, other);
      assert.deepStrictEqual(otherPlan.unread, [], 'known by signature, but no chunking for chunks of 300 tokens');
      assert.deepStrictEqual(otherPlan.plan, createPlan(files, other));
    });

    it('the CLI records what it read in the index and plans a file the index knows unread (its old counts, though its bytes changed unseen)', async () => {
      const first = await runCli(['plan', '--prompt', 'Review.', '--chunk-tokens', '400', '.'], root);
      assert.strictEqual(first.code, 0, first.stderr);
      const indexDir = path.join(testCacheHome(root), 'batch-prompt', 'plans-index');
      const indexFile = PlanIndex.fileOf(indexDir, await fs.realpath(root));
      const index = JSON.parse(await fs.readFile(indexFile, 'utf8'));
      assert.deepStrictEqual(Object.keys(index.files).sort(), files.map((f) => f.path));
      // As if the files had not been touched for a while: then change one file's bytes (the same length,
      // other tokens) and give its row the file's new signature, so that only the index can tell.
      index.startedAt = Date.now() + 10 * RACY_MS;
      const k = 2;
      const file = path.join(root, files[k].path);
      const text = files[k].text.replace(/[a-z]{6}/g, (w) => w.split('').join(' ').slice(0, 6));
      assert.strictEqual(text.length, files[k].text.length);
      await fs.writeFile(file, text);
      const st = await fs.stat(file);
      index.files[files[k].path] = [st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev, ...index.files[files[k].path].slice(5)];
      await fs.writeFile(indexFile, JSON.stringify(index));
      const line = (out: string) => out.split('\n').find((l) => l.startsWith(`${files[k].path}:`));
      const trusted = await runCli(['plan', '--prompt', 'Review.', '--chunk-tokens', '400', '.'], root);
      assert.strictEqual(trusted.code, 0, trusted.stderr);
      assert.strictEqual(line(trusted.stdout), line(first.stdout), 'planned unread: the counts of the text the index knew');
      // Without the index (its folder gone) the file is read: its new text counts otherwise.
      await fs.rm(indexDir, { recursive: true, force: true });
      const read = await runCli(['plan', '--prompt', 'Review.', '--chunk-tokens', '400', '.'], root);
      assert.notStrictEqual(line(read.stdout), line(first.stdout));
    });

    it('a run of files planned unread reads each text when sent, checked against its sha256, and every chunk succeeds', async () => {
      await planDisk(later);
      const model: ChatModel = {
        id: 'upper',
        supportsSystemMessage: true,
        structuredOutput: false,
        complete: async (request: ChatRequest): Promise<ChatResponse> => ({ text: taggedReply(chunksOf(request), (c) => c.body.toUpperCase()), finishReason: 'stop', usage: { inputTokens: 10, outputTokens: 10 } }),
      };
      const readPaths: string[] = [];
      const handed: string[] = [];
      const result = await runPlanning({
        root,
        dir: path.join(dir, 'run'),
        prompt: 'Review.',
        model,
        modelInfo: { id: 'upper' },
        tokenizer,
        parameters: { maxConcurrency: 2, maxRetries: 0, requestTimeoutMs: 60_000, chunkTokens: 400, overlapTokens: 40, chunksPerBatch: 3, maxBatchTokens: 4096 },
        planning: { inputs: ['.'], respectGitignore: false, maxFileBytes: 1 << 20 },
        planServices: { cache: new PlanCache(cacheDir, { clock: later }) },
        read: async (p) => (readPaths.push(p), fs.readFile(path.join(root, p), 'utf8')),
        files: (add, known) => collectFiles(['.'], { cwd: root, ...(known ? { known } : {}), onFile: (f) => (handed.push('text' in f ? 'read' : 'unread'), add(f)) }),
      });
      assert.deepStrictEqual(new Set(handed), new Set(['unread']), 'every file planned unread');
      assert.strictEqual(result.summary?.status, 'succeeded');
      assert.strictEqual(result.summary?.succeeded, result.plan.totals.chunks);
      assert.deepStrictEqual([...new Set(readPaths)].sort(), files.map((f) => f.path), 'each text read when its chunks were sent');
      assert.deepStrictEqual(result.plan.files.map((f) => f.hash), files.map((f) => hashText(f.text)));
    });
  });
});
