// A provider's batch result file with lines that are not JSON: their chunks fail visibly (`bad-reply`,
// naming the line), never dropped or passed off as "missing".
import * as assert from 'assert';
import * as path from 'path';
import { watchJob } from '../../../src/core/jobs/collect';
import { submitJob, type BatchApi } from '../../../src/core/jobs/job';
import { readRecords, type RunRecord } from '../../../src/core/store/runStore';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { SourceFile } from '../../../src/core/plan/types';
import { parseJsonl, recoverCustomId } from '../../../src/providers/batch/batchHttp';
import { createBatchApi } from '../../../src/providers/batch/batchApi';
import { BatchServer } from '../../support/batchServer';
import { JOB_PARAMETERS, JOB_PROMPT, planJob } from '../../support/batchJobFixtures';
import { useServer } from '../../support/localServer';
import { treeOf, useWorkspace } from '../../support/tempWorkspace';

const tokenizer = getTokenizer();
const KEY = 'sk-malformed-SECRET-0123456789';
const files: SourceFile[] = [
  { path: 'a.ts', text: 'export const a = 1;\n'.repeat(60) },
  { path: 'b.md', text: '# Title\n\nSome prose here.\n'.repeat(4) },
];

describe('malformed batch result lines', function () {
  this.timeout(20_000);
  const server = new BatchServer();
  let base = '';
  let ws = '';
  useServer(server, (url) => (base = url));
  useWorkspace('bp-malformed-', treeOf(files), (dir) => (ws = dir));

  it('parseJsonl numbers the malformed lines; recoverCustomId reads a cut line', () => {
    const parsed = parseJsonl<{ a: number }>('{"a":1}\n\n{"custom_id":"b2","resp\n{oops\n{"a":2}\n');
    assert.deepStrictEqual(parsed.items, [{ a: 1 }, { a: 2 }]);
    assert.deepStrictEqual(parsed.malformed.map((m) => m.line), [3, 4]);
    assert.strictEqual(recoverCustomId(parsed.malformed[0].text), 'b2');
    assert.strictEqual(recoverCustomId(parsed.malformed[1].text), undefined);
  });

  for (const provider of ['openai', 'anthropic'] as const) {
    it(`${provider}: a cut line fails its request's chunks naming the line; a line naming no request fails every unanswered chunk naming it`, async () => {
      const api = (): BatchApi => createBatchApi({ id: 'ep', provider, baseUrl: provider === 'openai' ? `${base}/v1` : base, model: 'm-1', maxOutputTokens: 777 }, KEY);
      const dir = path.join(ws, '.batch-prompt/runs/j');
      const plan = planJob(files);
      const { job } = await submitJob(plan, { root: ws, dir, prompt: JOB_PROMPT, modelInfo: { id: 'ep', provider, model: 'm-1' }, tokenizer, parameters: JOB_PARAMETERS, api: api(), endpointId: 'ep', maxOutputTokens: 777 });
      assert.ok(job && job.requests.length >= 3, 'at least three requests');
      let cutId = '';
      let lostId = '';
      server.damageResults = (text) => {
        const lines = text.split('\n');
        cutId = recoverCustomId(lines[0])!;
        lostId = recoverCustomId(lines[1])!;
        lines[0] = lines[0].slice(0, lines[0].indexOf(cutId) + cutId.length + 12); // cut mid-line: its id still shows
        lines[1] = '{"garbled": tru'; // no id left
        return lines.join('\n');
      };
      const result = await watchJob(dir, async () => api(), { intervalMs: 1, sleep: async () => undefined });
      assert.strictEqual(result?.status, 'collected');

      const records = await readRecords(dir);
      assert.strictEqual(records.length, plan.totals.chunks, 'every chunk recorded once');
      const chunksOf = (customId: string) => job.requests.find((r) => r.customId === customId)!.chunkIds;
      const byId = new Map<string, RunRecord>(records.map((r) => [r.chunkId, r]));
      const where = provider === 'openai' ? /the batch's output file file-\d+/ : /the batch's results file/;
      for (const id of chunksOf(cutId)) {
        const r = byId.get(id)!;
        assert.strictEqual(r.status, 'failed', id);
        assert.strictEqual(r.error?.kind, 'bad-reply');
        assert.match(r.error.message, /^Line 1 of /);
        assert.match(r.error.message, where);
        assert.ok(r.error.message.includes(`request ${cutId}`));
      }
      for (const id of chunksOf(lostId)) {
        const r = byId.get(id)!;
        assert.strictEqual(r.status, 'failed', id);
        assert.strictEqual(r.error?.kind, 'bad-reply');
        assert.match(r.error.message, /had 1 malformed line \(line 2 of /);
        assert.match(r.error.message, where);
        assert.ok(r.error.message.includes(`request ${lostId}`));
      }
      const others = job.requests.filter((q) => q.customId !== cutId && q.customId !== lostId).flatMap((q) => q.chunkIds);
      assert.ok(others.length > 0);
      for (const id of others) assert.strictEqual(byId.get(id)!.status, 'succeeded', id);
      assert.ok(records.every((r) => !JSON.stringify(r).includes(KEY)));
    });
  }
});
