import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { promises as fs } from 'fs';
import * as path from 'path';
import { applyProposals, EDITS_PATCH, patchOf, proposedText, PROPOSALS_FILE, readProposals, type ProposalManifest } from '../../../src/core/output/edits';
import { retryChunks } from '../../../src/core/session/run';
import { readRecords, readRunMeta } from '../../../src/core/store/runStore';
import { writeRunReport } from '../../../src/core/store/runReport';
import { InvalidRequestError } from '../../../src/core/execute/errors';
import type { RunEvent } from '../../../src/core/execute/events';
import type { SourceFile } from '../../../src/core/plan/types';
import { corpusSample, generatedFiles } from '../../support/editCorpus';
import { EDIT, editModel, runEdit, sloppy, tokenizer } from '../../support/editRun';
import { useWorkspace } from '../../support/tempWorkspace';

async function proposal(dir: string, manifest: ProposalManifest, f: SourceFile): Promise<string> {
  const entry = manifest.files.find((e) => e.path === f.path);
  assert.ok(entry, `${f.path} is in the manifest`);
  if (entry.status === 'unchanged') return f.text;
  assert.strictEqual(entry.status, 'proposed', `${f.path}: ${entry.status} ${entry.reason ?? ''}`);
  return proposedText(dir, f.path);
}

describe('edit runs (#15)', function () {
  this.timeout(60_000);
  let ws = '';
  useWorkspace('bp-edit-', {}, (dir) => (ws = dir));
  const files = (): SourceFile[] => [...generatedFiles(), ...corpusSample(24)];

  it('a model answering every part unchanged gives every file back byte for byte, and apply leaves them identical', async () => {
    const all = files();
    const { dir, plan } = await runEdit(ws, all, editModel((part) => part));
    assert.ok(plan.totals.chunks > all.length, `${plan.totals.chunks} chunks`);
    const manifest = await readProposals(dir);
    for (const f of all) {
      const e = manifest.files.find((x) => x.path === f.path)!;
      assert.strictEqual(e.status, 'unchanged', `${f.path}: ${e.status} ${e.reason ?? ''}`);
      await assert.rejects(fs.access(path.join(dir, 'proposed', `${f.path}.proposed`)), 'no proposal file for an unchanged file');
    }
    assert.strictEqual(await fs.readFile(path.join(dir, EDITS_PATCH), 'utf8'), '');
    const applied = await applyProposals(ws, dir);
    assert.strictEqual(applied.applied, 0);
    assert.strictEqual(applied.skipped, 0);
    for (const f of all) assert.strictEqual(await fs.readFile(path.join(ws, f.path), 'utf8'), f.text);
  });

  it('a model answering every part unchanged but with LF endings and no edge blank lines still gives every file back byte for byte', async () => {
    // A file of mixed line endings cannot be restored from an LF answer: it is left out here.
    const all = files().filter((f) => !f.path.includes('mixed'));
    const { dir } = await runEdit(ws, all, editModel((part) => sloppy(part)));
    const manifest = await readProposals(dir);
    for (const f of all) {
      const e = manifest.files.find((x) => x.path === f.path)!;
      assert.strictEqual(e.status, 'unchanged', `${f.path}: ${e.status} ${e.reason ?? ''}`);
    }
  });

  it('a model uppercasing every part gives exactly the uppercase of every file; the patch applies with git apply; apply writes them', async () => {
    const all = files().filter((f) => !f.path.includes('mixed'));
    const { dir } = await runEdit(ws, all, editModel((part) => sloppy(part.toUpperCase())));
    const manifest = await readProposals(dir);
    for (const f of all) {
      assert.strictEqual(await proposal(dir, manifest, f), f.text.toUpperCase(), `${f.path}: the uppercase of the file`);
    }
    // The patch applies at the root, in a git repository holding the originals.
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ws, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    git('init', '-q');
    git('-c', 'core.autocrlf=false', 'add', '--', ...all.map((f) => f.path));
    git('apply', '--check', '--', path.join(dir, EDITS_PATCH));
    const result = await applyProposals(ws, dir);
    assert.strictEqual(result.skipped, 0);
    for (const f of all) assert.strictEqual(await fs.readFile(path.join(ws, f.path), 'utf8'), f.text.toUpperCase(), `${f.path} applied`);
  });

  it('makes a patch of a large file with every line changed in bounded time (one hunk), and a small change as a small hunk; both apply', async () => {
    const big = Array.from({ length: 60_000 }, (_, i) => `line ${i} of a large file`).join('\r\n');
    const upper = big.toUpperCase();
    const oneLine = big.replace('line 30000 of', 'LINE 30000 OF');
    const whole = patchOf('big.txt', big, upper);
    const small = patchOf('big.txt', big, oneLine);
    assert.ok(small.length < 600, `a one-line change gives a small hunk (${small.length} chars)`);
    await fs.writeFile(path.join(ws, 'big.txt'), big);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ws, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    git('init', '-q');
    for (const [name, patch] of [['whole', whole], ['small', small]]) {
      await fs.writeFile(path.join(ws, `${name}.patch`), patch);
      git('apply', '--check', `${name}.patch`);
    }
    git('apply', 'whole.patch');
    assert.strictEqual(await fs.readFile(path.join(ws, 'big.txt'), 'utf8'), upper);
  });

  it('a reply cut at the output limit is split and retried as an overflow, never taken', async () => {
    const f = generatedFiles()[0];
    const events: RunEvent[] = [];
    // The output limit holds 8 lines: a longer part is cut (no closer, finish reason length).
    const model = editModel((part) => {
      const lines = part.split('\n');
      if (lines.length > 9) return { result: lines.slice(0, 8).join('\n').toUpperCase(), finishReason: 'length', raw: true };
      return part.toUpperCase();
    });
    const { dir } = await runEdit(ws, [f], model, { events, parameters: { maxConcurrency: 1, maxRetries: 1, requestTimeoutMs: 10_000, chunkTokens: 300, overlapTokens: 40, chunksPerBatch: 1, maxBatchTokens: 32768 } });
    assert.ok(events.some((e) => e.type === 'batch-split' && e.reason === 'truncated'), 'split for the output limit');
    assert.strictEqual(await proposal(dir, await readProposals(dir), f), f.text.toUpperCase());
  });

  it('an edit part of a single line whose rewrite is cut off fails for the output limit, saying why; the file has no proposal', async () => {
    const f = { path: 'one.txt', text: `${'word '.repeat(150)}\n` };
    const model = editModel((part) => ({ result: part.slice(0, 40), finishReason: 'length', raw: true }));
    const { dir } = await runEdit(ws, [f], model);
    const [record] = await readRecords(dir);
    assert.strictEqual(record.status, 'failed');
    assert.strictEqual(record.error?.kind, 'truncated');
    assert.match(record.error!.message, /^The rewrite was cut off by the output limit\. chunk 1\.1's editable part is a single line \(lines 1-1\): it cannot be split at a line end/);
    assert.strictEqual((await readProposals(dir)).files[0].status, 'incomplete');
  });

  it('a reply without a closed result block is not taken: the chunk is sent again', async () => {
    const f = generatedFiles()[1];
    const model = editModel((part, _c, n) => (n === 1 ? { result: `<result id="1.1">\n${part.toUpperCase().slice(0, 20)}`, raw: true } : n === 2 ? { result: 'Sure! Here is the rewrite.', raw: true } : part.toUpperCase()));
    const { dir } = await runEdit(ws, [f], model, { parameters: { maxConcurrency: 1, maxRetries: 3, requestTimeoutMs: 10_000, chunkTokens: 300, overlapTokens: 40, chunksPerBatch: 1, maxBatchTokens: 32768 } });
    assert.strictEqual(await proposal(dir, await readProposals(dir), f), f.text.toUpperCase());
  });

  it('a result that is exactly one fenced code block is unwrapped', async () => {
    const all = [generatedFiles()[0], generatedFiles()[1], generatedFiles()[2]];
    const { dir } = await runEdit(ws, all, editModel((part) => `\`\`\`ts\n${part.toUpperCase()}${part.endsWith('\n') ? '' : '\n'}\`\`\``));
    const manifest = await readProposals(dir);
    for (const f of all) assert.strictEqual(await proposal(dir, manifest, f), f.text.toUpperCase(), f.path);
  });

  it('a part answered empty or shrunk to under half its lines is kept but flagged suspicious in run.jsonl and the manifest', async () => {
    const f = generatedFiles()[0];
    const model = editModel((part, c) => (c.id === '1.2' ? '' : c.id === '1.3' ? part.split('\n').slice(0, 2).join('\n') : part));
    const { dir, plan } = await runEdit(ws, [f], model);
    const chunks = plan.files[0].chunks;
    assert.ok(chunks.length >= 4);
    const records = await readRecords(dir);
    const byId = new Map(records.map((r) => [r.chunkId, r]));
    assert.deepStrictEqual(byId.get('1.2')!.flags, ['suspicious']);
    assert.match(byId.get('1.2')!.note!, /the rewritten part is empty: its \d+ lines were deleted/);
    assert.deepStrictEqual(byId.get('1.3')!.flags, ['suspicious']);
    assert.match(byId.get('1.3')!.note!, /the part shrank from \d+ lines to \d+/);
    assert.strictEqual(byId.get('1.1')!.flags, undefined);
    const manifest = await readProposals(dir);
    const entry = manifest.files[0];
    assert.strictEqual(entry.status, 'proposed');
    assert.deepStrictEqual(entry.suspicious!.map((s) => s.chunkId), ['1.2', '1.3']);
    const c2 = chunks[1];
    assert.strictEqual(entry.suspicious![0].startLine, f.text.slice(0, c2.start + c2.overlap).split('\n').length);
    // The empty part is deleted from the proposal, the others kept.
    const text = await proposedText(dir, f.path);
    const part2 = f.text.slice(c2.start + c2.overlap, c2.end - (c2.trailing ?? 0));
    assert.ok(!text.includes(part2), 'the emptied part is gone');
    assert.ok(text.startsWith(f.text.slice(0, c2.start + c2.overlap)), 'the first part is kept');
  });

  it('a file with failed chunks has no proposal until a retry completes it; apply skips it meanwhile', async () => {
    const f = generatedFiles()[0];
    const failing = editModel((part, c) => (c.id === '1.2' ? { result: '', raw: true } : part.toUpperCase()));
    failing.complete = ((orig) => async (request) => {
      const r = await orig(request);
      if (request.messages.some((m) => m.content.includes('<chunk id="1.2"'))) throw new InvalidRequestError('refused');
      return r;
    })(failing.complete.bind(failing));
    const params = { maxConcurrency: 1, maxRetries: 0, requestTimeoutMs: 10_000, chunkTokens: 300, overlapTokens: 40, chunksPerBatch: 1, maxBatchTokens: 32768 };
    const { dir } = await runEdit(ws, [f], failing, { parameters: params });
    let manifest = await readProposals(dir);
    assert.strictEqual(manifest.files[0].status, 'incomplete');
    assert.match(manifest.files[0].reason!, /^failed chunks: 1 of \d+ did not succeed \(1\.2\)/);
    await assert.rejects(fs.access(path.join(dir, 'proposed', `${f.path}.proposed`)));
    const skipped = await applyProposals(ws, dir);
    assert.deepStrictEqual(skipped.files.map((x) => [x.path, x.outcome]), [[f.path, 'skipped']]);
    assert.match(skipped.files[0].reason!, /failed chunks/);
    const { summary } = await retryChunks(dir, { model: editModel((part) => part.toUpperCase()), tokenizer, roots: { allowed: [ws], hint: '' }, output: EDIT });
    await writeRunReport(dir, {}, summary);
    manifest = await readProposals(dir);
    assert.strictEqual(manifest.files[0].status, 'proposed');
    assert.strictEqual(await proposedText(dir, f.path), f.text.toUpperCase());
  });

  it('proposals are named <path>.proposed (#18); a folder written before keeps working: read, applied, renamed on rewrite', async () => {
    const [a] = generatedFiles();
    const { dir } = await runEdit(ws, [a], editModel((part) => part.toUpperCase()), { name: 'names' });
    assert.deepStrictEqual(await fs.readdir(path.dirname(path.join(dir, 'proposed', a.path))), [`${path.basename(a.path)}.proposed`]);
    assert.match(await fs.readFile(path.join(dir, 'report.md'), 'utf8'), new RegExp(`\\(proposed/${a.path.replace(/[.]/g, '\\.')}\\.proposed\\)`), 'the report links the new name');
    // As before #18: the proposal under the source's own name.
    await fs.rename(path.join(dir, 'proposed', `${a.path}.proposed`), path.join(dir, 'proposed', a.path));
    assert.strictEqual(await proposedText(dir, a.path), a.text.toUpperCase());
    const { summary } = await retryChunks(dir, { model: editModel((part) => part.toUpperCase()), tokenizer, roots: { allowed: [ws], hint: '' }, output: EDIT });
    await writeRunReport(dir, {}, summary);
    assert.deepStrictEqual(await fs.readdir(path.dirname(path.join(dir, 'proposed', a.path))), [`${path.basename(a.path)}.proposed`], 'the old name is dropped on rewrite');
    await fs.rename(path.join(dir, 'proposed', `${a.path}.proposed`), path.join(dir, 'proposed', a.path));
    const applied = await applyProposals(ws, dir);
    assert.deepStrictEqual(applied.files.map((x) => [x.path, x.outcome]), [[a.path, 'applied']]);
    assert.strictEqual(await fs.readFile(path.join(ws, a.path), 'utf8'), a.text.toUpperCase());
  });

  it('apply refuses a file changed after the run and leaves it byte-identical; --only filters; two runs on one file are independent', async () => {
    const [a, b, c] = generatedFiles();
    const { dir } = await runEdit(ws, [a, b, c], editModel((part) => part.toUpperCase()), { name: 'one' });
    const { dir: second } = await runEdit(ws, [a], editModel((part) => `${part.replace(/\n$/, '')} // two\n`), { name: 'two', write: false });
    const changed = `${b.text}// edited by hand\n`;
    await fs.writeFile(path.join(ws, b.path), changed);
    const onlyA = await applyProposals(ws, dir, { only: 'gen/lf.*' });
    assert.deepStrictEqual(onlyA.files.map((x) => [x.path, x.outcome]), [[a.path, 'applied']]);
    assert.strictEqual(await fs.readFile(path.join(ws, c.path), 'utf8'), c.text, 'outside --only: untouched');
    const rest = await applyProposals(ws, dir);
    assert.deepStrictEqual(rest.files.map((x) => [x.path, x.outcome, x.reason]), [
      [a.path, 'skipped', 'changed since the run: re-run it'],
      [b.path, 'skipped', 'changed since the run: re-run it'],
      [c.path, 'applied', undefined],
    ]);
    assert.strictEqual(await fs.readFile(path.join(ws, b.path), 'utf8'), changed, 'the changed file is byte-identical');
    assert.strictEqual(await fs.readFile(path.join(ws, a.path), 'utf8'), a.text.toUpperCase());
    // The second run's proposal for a.ts is its own, and a.ts changed since (the first run's apply).
    const other = await applyProposals(ws, second);
    assert.deepStrictEqual(other.files.map((x) => [x.outcome, x.reason]), [['skipped', 'changed since the run: re-run it']]);
    assert.strictEqual(await fs.readFile(path.join(ws, a.path), 'utf8'), a.text.toUpperCase());
  });

  it('apply reports a deleted file and keeps a file\'s permissions', async () => {
    const [a, b] = generatedFiles();
    await fs.mkdir(path.join(ws, 'gen'), { recursive: true });
    const { dir } = await runEdit(ws, [a, b], editModel((part) => part.toUpperCase()));
    await fs.chmod(path.join(ws, a.path), 0o755);
    await fs.rm(path.join(ws, b.path));
    const r = await applyProposals(ws, dir);
    assert.deepStrictEqual(r.files.map((x) => [x.outcome, x.reason]), [['applied', undefined], ['skipped', 'deleted since the run']]);
    assert.strictEqual((await fs.stat(path.join(ws, a.path))).mode & 0o777, 0o755);
  });

  it('records the kind in run.json and the skipped files, listed in the manifest with their reason', async () => {
    const minified = { path: 'min.js', text: `${Array.from({ length: 800 }, (_, i) => `f${i}(x)`).join(';')}\n` };
    const { dir } = await runEdit(ws, [minified, generatedFiles()[0]], editModel((part) => part));
    const meta = await readRunMeta(dir);
    assert.deepStrictEqual(meta.output, { kind: 'edit' });
    assert.strictEqual(meta.skipped![0].path, 'min.js');
    const manifest = await readProposals(dir);
    assert.deepStrictEqual(manifest.files.map((x) => [x.path, x.status]), [['gen/lf.ts', 'unchanged'], ['min.js', 'skipped']]);
    assert.match(manifest.files[1].reason!, /cannot be edited in parts/);
    assert.match(await fs.readFile(path.join(dir, 'report.md'), 'utf8'), /## Proposed edits/);
  });

  it('refuses a hostile proposals.json before writing anything', async () => {
    const [a] = generatedFiles();
    const { dir } = await runEdit(ws, [a], editModel((part) => part.toUpperCase()));
    const manifest = JSON.parse(await fs.readFile(path.join(dir, PROPOSALS_FILE), 'utf8')) as ProposalManifest;
    for (const [bad, why] of [
      [{ ...manifest, files: [{ ...manifest.files[0], path: '../outside.txt' }] }, /files\[0\]\.path "\.\.\/outside\.txt" has a "\.\." segment/],
      [{ ...manifest, files: [{ ...manifest.files[0], status: 'done' }] }, /files\[0\]\.status "done" is not one of proposed, incomplete, unchanged, skipped/],
      [{ ...manifest, version: 2 }, /is not a version 1 manifest/],
    ] as const) {
      await fs.writeFile(path.join(dir, PROPOSALS_FILE), JSON.stringify(bad));
      await assert.rejects(applyProposals(ws, dir), why);
    }
    assert.strictEqual(await fs.readFile(path.join(ws, a.path), 'utf8'), a.text);
  });
});
