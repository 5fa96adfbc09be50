import * as assert from 'assert';
import * as path from 'path';
import { parsePromptFile } from '../../../src/core/input/promptFile';
import { outcomesOf } from '../../../src/core/jobs/collect';
import type { JobRecord } from '../../../src/core/jobs/job';
import { checkEdit, normalizePart, unwrapFence } from '../../../src/core/output/editText';
import { proposedText, readProposals } from '../../../src/core/output/edits';
import { isStructured, outputKeyOf } from '../../../src/core/output/spec';
import { buildMessages, parseReply, structuredRequest } from '../../../src/core/plan/protocol';
import { runPlan } from '../../../src/core/session/run';
import { chunkResultKey } from '../../../src/core/store/cachedChunks';
import { checkRunMeta, RunOutputError } from '../../../src/core/store/pathGuard';
import { ResultCache } from '../../../src/core/store/resultCache';
import { writeRunReport } from '../../../src/core/store/runReport';
import type { Chunk } from '../../../src/core/plan/types';
import { generatedFiles } from '../../support/editCorpus';
import { EDIT, EDIT_PARAMETERS, editModel, editPlan, tokenizer } from '../../support/editRun';
import { useWorkspace, writeFiles } from '../../support/tempWorkspace';

describe('the edit output kind (#15)', function () {
  this.timeout(90_000);

  it('is read from a prompt file\'s `output: edit`, and takes no schema', () => {
    assert.deepStrictEqual(parsePromptFile('---\noutput: edit\n---\nAdd a doc comment.'), { body: 'Add a doc comment.', output: 'edit' });
    assert.match(parsePromptFile('---\noutput: edit\nschema: s.json\n---\nx').problem!, /`schema:` applies to `output: json` only, not to `output: edit`/);
  });

  it('is accepted in run.json without a schema, and is not a structured kind', () => {
    checkRunMeta({ files: [], output: { kind: 'edit' } });
    assert.throws(() => checkRunMeta({ files: [], output: { kind: 'edit', schema: {} } }), (e: Error) => RunOutputError.is(e) && /takes none/.test(e.message));
    assert.strictEqual(isStructured(EDIT), false);
    assert.deepStrictEqual(structuredRequest(EDIT, [{ id: '1.1' }]), {});
  });

  it('is part of the cache key: an edit result is never taken for a text one', () => {
    assert.deepStrictEqual(outputKeyOf(EDIT), { kind: 'edit', schemaHash: '' });
    const base = { prompt: 'p', model: { id: 'm' } };
    const chunk = { path: 'a.ts', startLine: 1 };
    assert.notStrictEqual(chunkResultKey({ ...base, output: EDIT }, chunk, 'x'), chunkResultKey(base, chunk, 'x'));
  });

  it('asks for the edit part only, with the context marked as context', () => {
    const text = 'a\nb\nc\n';
    const chunk: Chunk = { id: '1.2', path: 'x.ts', index: 1, start: 0, end: text.length, startLine: 4, endLine: 6, overlap: 2, trailing: 2, tokens: 3, text };
    const [system, user] = buildMessages('Add docs.', [chunk], true, EDIT);
    assert.match(system.content, /the part to rewrite is inside <edit lines="…"> … <\/edit>\. The <context lines="…"> … <\/context> blocks around it are the neighbouring lines of the same file, for context only/);
    assert.strictEqual(user.content, '<chunk id="1.2" path="x.ts" lines="4-6">\n<context lines="4-4">\na\n</context>\n<edit lines="5-5">\nb\n</edit>\n<context lines="6-6">\nc\n</context>\n</chunk>');
  });

  it('takes a result only when its block is closed', () => {
    assert.deepStrictEqual([...parseReply('just text', ['1.1'], { closedOnly: true }).results], []);
    assert.deepStrictEqual([...parseReply('<result id="1.1">\npart\n<result id="1.2">\nx\n</result>', ['1.1', '1.2'], { closedOnly: true }).results], [['1.2', 'x']]);
    assert.deepStrictEqual([...parseReply('just text', ['1.1']).results], [['1.1', 'just text']], 'text runs still take a bare reply');
  });

  it('normalises an answer: fence unwrapped, line endings, BOM, edge blank lines; empty stays empty', () => {
    assert.strictEqual(unwrapFence('```js\nx\ny\n```'), 'x\ny\n');
    assert.strictEqual(unwrapFence('```js\nx\n```\nmore\n```\ny\n```'), undefined, 'two blocks are not one');
    assert.strictEqual(unwrapFence('text then\n```\nx\n```'), undefined, 'prose before the fence');
    assert.strictEqual(checkEdit('```md\nkeep\n```\n', '```md\nKEEP\n```').output, '```md\nKEEP\n```\n', 'an original that is a fenced block keeps its fences');
    assert.strictEqual(normalizePart('\uFEFFa\r\nb\r\n\r\n', 'A\nB'), '\uFEFFA\r\nB\r\n\r\n');
    assert.strictEqual(normalizePart('last line', 'LAST LINE\n'), 'LAST LINE');
    assert.strictEqual(normalizePart('\n\nx\n', 'X\n'), '\n\nX\n');
    assert.strictEqual(normalizePart('a\nb\n', ''), '');
    assert.strictEqual(normalizePart('a', 'A\nB', 'crlf'), 'A\r\nB', 'a part without a line break takes the file\'s endings');
  });

  it('checks a batch job\'s answers as a live run does: closed results only, fence unwrapped, normalised, flagged; a changed file fails its chunk', () => {
    const text = 'one\r\ntwo\r\nthree\r\nfour\r\n';
    const chunk = (id: string, start: number, end: number) => ({ id, path: 'a.txt', index: 0, start, end, startLine: 1, endLine: 4, overlap: 0, trailing: 0, tokens: 5 });
    const chunks = [chunk('1.1', 0, 10), chunk('1.2', 10, text.length)];
    const request = { customId: 'b1', batchId: 'b1', chunkIds: ['1.1', '1.2'] };
    const reply = (body: string) => ({ customId: 'b1', ok: true as const, response: { text: body, finishReason: 'stop' as const } });
    const job = {} as JobRecord;
    const edits = new Map([['1.1', text.slice(0, 10)], ['1.2', text.slice(10)]]);
    const [a, b] = outcomesOf(request, chunks, reply('<result id="1.1">\n```\nONE\nTWO\n```\n</result>\n<result id="1.2">\n</result>'), job, [], undefined, edits);
    assert.deepStrictEqual([a.status, a.output, a.flags], ['succeeded', 'ONE\r\nTWO\r\n', undefined]);
    assert.deepStrictEqual([b.status, b.output, b.flags], ['succeeded', '', ['suspicious']]);
    const [c] = outcomesOf({ ...request, chunkIds: ['1.1'] }, [chunks[0]], reply('ONE\nTWO'), job, [], undefined, edits);
    assert.strictEqual(c.status, 'failed', 'a bare reply is not a closed result');
    const gone = new Map<string, string | { kind: 'source-changed'; message: string }>([['1.1', { kind: 'source-changed', message: 'a.txt changed after the run was planned' }]]);
    const [d] = outcomesOf({ ...request, chunkIds: ['1.1'] }, [chunks[0]], reply('<result id="1.1">\nX\n</result>'), job, [], undefined, gone);
    assert.deepStrictEqual([d.status, d.error?.kind], ['failed', 'source-changed']);
  });

  describe('through the result cache', () => {
    let ws = '';
    useWorkspace('bp-edit-cache-', {}, (dir) => (ws = dir));

    it('serves a second identical edit run from the cache, with the same proposals', async () => {
      const files = generatedFiles().slice(0, 2);
      await writeFiles(ws, Object.fromEntries(files.map((f) => [f.path, f.text])));
      const cache = new ResultCache(path.join(ws, '.cache'));
      const model = editModel((part) => part.toUpperCase());
      const plan = editPlan(files);
      const run = async (name: string) => {
        const dir = path.join(ws, 'runs', name);
        const { summary } = await runPlan(plan, { root: ws, dir, prompt: 'Rewrite.', model, modelInfo: { id: 'fake' }, tokenizer, parameters: EDIT_PARAMETERS, output: EDIT, cache });
        await writeRunReport(dir, {}, summary);
        return { dir, summary };
      };
      const first = await run('a');
      const sent = model.requests.length;
      const second = await run('b');
      assert.strictEqual(second.summary.cached, plan.totals.chunks);
      assert.strictEqual(model.requests.length, sent, 'nothing sent the second time');
      assert.deepStrictEqual((await readProposals(second.dir)).files, (await readProposals(first.dir)).files);
      for (const f of files) assert.strictEqual(await proposedText(second.dir, f.path), f.text.toUpperCase());
    });
  });
});
