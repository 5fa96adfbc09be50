import * as assert from 'assert';
import type { ChunkRef } from '../../../src/core/plan/types';
import { DeferredLiveFeed, fileNameOf, LiveResultsModel, shouldStream, splitReply, STREAM_AUTO_MAX_REQUESTS, type LiveFeed } from '../../../src/vscode/live/liveResultsModel';
import type { ChunkOutcome } from '../../../src/core/execute/events';
import { normalizeSettings } from '../../../src/vscode/base/settingsSchema';
import { renderChunkOutput } from '../../../src/core/output/artifacts';
import { encodeEntries, type OutputSpec } from '../../../src/core/output/spec';

const ref = (id: string, path: string): ChunkRef => ({ id, path, index: 0, start: 0, end: 10, startLine: 1, endLine: 5, overlap: 0, tokens: 10 });

describe('live results', () => {
  it('batchPrompt.stream: auto streams runs of at most the documented number of requests; always and never do what they say', () => {
    assert.strictEqual(shouldStream('auto', 1), true);
    assert.strictEqual(shouldStream('auto', STREAM_AUTO_MAX_REQUESTS), true);
    assert.strictEqual(shouldStream('auto', STREAM_AUTO_MAX_REQUESTS + 1), false);
    assert.strictEqual(shouldStream('always', 10_000), true);
    assert.strictEqual(shouldStream('never', 1), false);
    assert.strictEqual(normalizeSettings(() => undefined).stream, 'auto');
    assert.strictEqual(normalizeSettings((k) => (k === 'stream' ? 'never' : undefined)).stream, 'never');
    assert.strictEqual(normalizeSettings((k) => (k === 'stream' ? 'sometimes' : undefined)).stream, 'auto', 'an unknown value falls back to the default');
  });

  it('cuts a partial reply into its result blocks, hiding a tag that is still arriving', () => {
    assert.deepStrictEqual([...splitReply('<result id="a">\nAA\n</result>\n<result id="b">\nB')], [['a', 'AA'], ['b', 'B']]);
    assert.deepStrictEqual([...splitReply('<result id="a">\nAA\n</res')], [['a', 'AA\n']]);
    assert.deepStrictEqual([...splitReply('<result id="a">\nx < y')], [['a', 'x < y']]);
    assert.deepStrictEqual([...splitReply('<result id="a')], []);
  });

  it('fills each chunk in as its batch streams, starts a retried batch again from nothing, and ends on the recorded output', () => {
    const a = ref('0:0', 'src/a.ts');
    const b = ref('1:0', 'src/b.ts');
    const m = new LiveResultsModel('Run', [a, b]);
    assert.match(m.render(), /src\/a\.ts · lines 1–5 · waiting/);
    m.applyEvent({ type: 'batch-started', batchId: 'b1', chunkIds: [a.id, b.id], tokens: 10, attempt: 1 });
    for (const piece of ['<result id="0:0">\nHEL', 'LO A\n</result>\n<result id="1:0">\nPART', 'IAL B']) m.applyText('b1', [a.id, b.id], piece);
    let doc = m.render();
    assert.match(doc, /src\/a\.ts · lines 1–5 · streaming…\n\nHELLO A\n/);
    assert.match(doc, /src\/b\.ts · lines 1–5 · streaming…\n\nPARTIAL B\n/);
    m.applyEvent({ type: 'batch-finished', batchId: 'b1', chunkIds: [a.id, b.id], ok: false, tokens: 10, inputTokens: 0, outputTokens: 0, latencyMs: 5, error: { kind: 'transient', message: 'broke off' } });
    assert.match(m.render(), /src\/b\.ts · lines 1–5 · retrying · attempt 1 ended: transient/);
    m.applyEvent({ type: 'batch-started', batchId: 'b1', chunkIds: [a.id, b.id], tokens: 10, attempt: 2 });
    doc = m.render();
    assert.ok(!doc.includes('PARTIAL B') && !doc.includes('HELLO A'), 'the retry starts from nothing');
    assert.match(doc, /streaming \(attempt 2\)…/);
    m.applyText('b1', [a.id, b.id], '<result id="0:0">\nNEW A');
    m.applyOutcome({ chunk: a, status: 'succeeded', output: 'FINAL A', attempts: 2, batchId: 'b1', inputTokens: 1, outputTokens: 1, latencyMs: 1 });
    m.applyOutcome({ chunk: b, status: 'failed', error: { kind: 'bad-reply', message: 'no result' }, attempts: 2, batchId: 'b1', inputTokens: 1, outputTokens: 1, latencyMs: 1 });
    m.applyEvent({ type: 'run-finished', summary: { succeeded: 1, failed: 1, canceled: 0, requests: 2, inputTokens: 2, outputTokens: 2, durationMs: 9 } });
    doc = m.render();
    assert.match(doc, /2 of 2 chunks done: 1 succeeded, 1 failed · run finished/);
    assert.match(doc, /src\/a\.ts · lines 1–5 · succeeded\n\nFINAL A\n/);
    assert.match(doc, /src\/b\.ts · lines 1–5 · failed · bad-reply: no result/);
  });

  it('a canceled run says how many chunks were canceled; a canceled chunk is not labelled "canceled: Canceled"', () => {
    const a = ref('1.1', 'src/a.ts');
    const b = ref('2.1', 'src/b.ts');
    const m = new LiveResultsModel('Run', [a, b]);
    m.applyOutcome({ chunk: a, status: 'succeeded', output: 'A', attempts: 1, batchId: 'b1', inputTokens: 1, outputTokens: 1, latencyMs: 1 });
    m.applyOutcome({ chunk: b, status: 'canceled', error: { kind: 'canceled', message: 'Canceled' }, attempts: 0, batchId: 'b2', inputTokens: 0, outputTokens: 0, latencyMs: 0 });
    m.applyEvent({ type: 'run-finished', summary: { succeeded: 1, failed: 0, canceled: 1, requests: 1, inputTokens: 1, outputTokens: 1, durationMs: 9 } });
    const doc = m.render();
    assert.match(doc, /2 of 2 chunks done: 1 succeeded, 1 canceled · run finished/);
    assert.match(doc, /src\/b\.ts · lines 1–5 · canceled\n/);
    assert.ok(!/canceled: Canceled/i.test(doc), doc);
  });

  it('a one-chunk reply without tags shows as it streams, but not the start of a tag', () => {
    const a = ref('0:0', 'a.md');
    const m = new LiveResultsModel('Run', [a]);
    m.applyEvent({ type: 'batch-started', batchId: 'b1', chunkIds: [a.id], tokens: 10, attempt: 1 });
    m.applyText('b1', [a.id], '<resu');
    assert.ok(!m.render().includes('<resu'));
    const n = new LiveResultsModel('Run', [a]);
    n.applyEvent({ type: 'batch-started', batchId: 'b1', chunkIds: [a.id], tokens: 10, attempt: 1 });
    n.applyText('b1', [a.id], 'Plain answer');
    assert.match(n.render(), /streaming…\n\nPlain answer/);
  });

  it('a findings chunk ends as a readable list, not its recorded JSON; an unreadable record shows as it is', () => {
    const a = ref('1.1', 'src/a.ts');
    const spec: OutputSpec = { kind: 'findings' };
    const m = new LiveResultsModel('Run', [a], (c, text) => renderChunkOutput(spec, c, text));
    const value = { findings: [{ line: 3, severity: 'error', message: 'Off by one.', rule: 'bounds', suggestion: 'Use <=.' }] };
    m.applyOutcome({ chunk: a, status: 'succeeded', output: encodeEntries([{ startLine: 1, endLine: 5, value }]), attempts: 1, batchId: 'b1', inputTokens: 1, outputTokens: 1, latencyMs: 1 });
    const doc = m.render();
    assert.match(doc, /succeeded\n\n- \*\*error\*\* line 3 `bounds`: Off by one\.\n {2}- Suggestion: Use <=\./);
    assert.ok(!doc.includes('"startLine"'), 'no raw record');
    assert.strictEqual(renderChunkOutput(spec, a, 'not json'), 'not json');
  });

  it('a retry of the run on show replaces a failed entry with its new outcome; the others stay', () => {
    const a = ref('1.1', 'src/a.ts');
    const b = ref('2.1', 'src/b.ts');
    const m = new LiveResultsModel('explain.prompt.md · 20261203-101500-ab12', [a, b]);
    m.applyOutcome({ chunk: a, status: 'succeeded', output: 'A', cached: true, attempts: 0, batchId: 'cache', inputTokens: 0, outputTokens: 0, latencyMs: 0 });
    m.applyOutcome({ chunk: b, status: 'failed', error: { kind: 'transient', message: 'HTTP 500' }, attempts: 3, batchId: 'b1', inputTokens: 0, outputTokens: 0, latencyMs: 1 });
    m.applyEvent({ type: 'run-finished', summary: { succeeded: 1, failed: 1, canceled: 0, requests: 3, inputTokens: 0, outputTokens: 0, durationMs: 9 } });
    assert.match(m.render(), /2 of 2 chunks done: 1 succeeded, 1 failed \(1 from the cache\) · run finished/);
    assert.match(m.render(), /src\/b\.ts · lines 1–5 · failed · transient: HTTP 500/);
    m.restart([b], 'retry of 1 chunk');
    assert.match(m.render(), /1 of 2 chunks done \(1 from the cache\) · retry of 1 chunk · streaming…/);
    assert.match(m.render(), /src\/b\.ts · lines 1–5 · waiting\n/);
    m.applyOutcome({ chunk: b, status: 'succeeded', output: 'B NOW', attempts: 1, batchId: 'r1', inputTokens: 1, outputTokens: 1, latencyMs: 1 });
    m.applyEvent({ type: 'run-finished', summary: { succeeded: 1, failed: 0, canceled: 0, requests: 1, inputTokens: 1, outputTokens: 1, durationMs: 9 } });
    const doc = m.render();
    assert.ok(!doc.includes('HTTP 500'), 'the failed entry is gone');
    assert.match(doc, /src\/b\.ts · lines 1–5 · succeeded\n\nB NOW\n/);
    assert.match(doc, /src\/a\.ts · lines 1–5 · succeeded · from the cache\n\nA\n/);
    assert.match(doc, /^# explain\.prompt\.md · 20261203-101500-ab12\n/);
    assert.match(doc, /retry finished/);
  });

  it('names the tab after the run, without characters a file name cannot hold', () => {
    assert.strictEqual(fileNameOf('a/b: c?.prompt.md · 20261203-101500-ab12'), 'a b c .prompt.md · 20261203-101500-ab12');
    assert.strictEqual(fileNameOf('///'), 'live results');
    assert.ok(fileNameOf('x'.repeat(200)).length <= 80);
  });

  describe('the live document of a run that sends while it plans (#17)', () => {
    const a = ref('0:0', 'src/a.ts');
    const outcome = (c: ChunkRef): ChunkOutcome => ({ chunk: c, status: 'succeeded', output: 'A', attempts: 1, batchId: 'b1', inputTokens: 1, outputTokens: 1, latencyMs: 1 });
    const recorder = (log: string[]): LiveFeed => ({
      onEvent: (e) => log.push(e.type),
      onOutcome: (o) => log.push(`outcome ${o.chunk.id}`),
      onText: (_b, _c, delta) => log.push(`text ${delta}`),
    });

    it('keeps what the run says until the plan is complete, then replays it in order into the document, and goes straight on', async () => {
      const feed = new DeferredLiveFeed('auto');
      const log: string[] = [];
      feed.onEvent({ type: 'planning', files: 1, chunks: 1, batches: 1 });
      feed.onEvent({ type: 'batch-started', batchId: 'b1', chunkIds: [a.id], tokens: 10, attempt: 1 });
      feed.onText('b1', [a.id], 'AB');
      let opened = 0;
      await feed.planned(1, async () => {
        opened++;
        feed.onText('b1', [a.id], 'C'); // arrives while the document opens
        return recorder(log);
      });
      feed.onOutcome(outcome(a));
      assert.strictEqual(opened, 1);
      assert.deepStrictEqual(log, ['planning', 'batch-started', 'text AB', 'text C', 'outcome 0:0']);
    });

    it('auto: a plan past the streaming size keeps nothing from then on and never opens a document', async () => {
      const feed = new DeferredLiveFeed('auto');
      let opened = 0;
      feed.onEvent({ type: 'planning', files: 9, chunks: 9, batches: STREAM_AUTO_MAX_REQUESTS + 1 });
      feed.onText('b1', [a.id], 'x');
      await feed.planned(STREAM_AUTO_MAX_REQUESTS + 1, async () => (opened++, recorder([])));
      assert.strictEqual(opened, 0);
      const always = new DeferredLiveFeed('always');
      const log: string[] = [];
      always.onEvent({ type: 'planning', files: 9, chunks: 9, batches: STREAM_AUTO_MAX_REQUESTS + 1 });
      await always.planned(STREAM_AUTO_MAX_REQUESTS + 1, async () => recorder(log));
      assert.deepStrictEqual(log, ['planning'], 'always streams a run of any size, with what it said before');
    });
  });
});
