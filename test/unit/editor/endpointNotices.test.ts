import * as assert from 'assert';
import { EndpointPool } from '../../../src/core/execute/endpointPool';
import type { RunEvent } from '../../../src/core/execute/events';
import type { ChatModel } from '../../../src/core/execute/model';
import { realClock } from '../../../src/core/execute/rateLimit';
import { droppedEndpointsNote, endpointReason, renderReport } from '../../../src/core/store/report';
import type { RunMeta, RunSummary } from '../../../src/core/store/runStore';
import { EndpointDropNotices } from '../../../src/vscode/run/endpointNotices';

/** A pool of endpoints named `ids` (models never called) and the events it emits. */
function poolOf(...ids: string[]): { pool: EndpointPool; events: RunEvent[] } {
  const events: RunEvent[] = [];
  const models = ids.map((id) => ({ id }) as unknown as ChatModel);
  return { pool: new EndpointPool(models.map((model) => ({ model })), { clock: realClock, defaults: {}, emit: (e) => events.push(e) }), events };
}

describe('editor messages for endpoints leaving a run', () => {
  it('warns once per dropped endpoint, naming why and where its batches go; other events say nothing', () => {
    const { pool, events } = poolOf('one', 'two', 'three');
    pool.drop(pool.all[1], { kind: 'auth', message: 'The endpoint refused the API key.' });
    pool.drop(pool.all[1], { kind: 'transient', message: 'again' });
    pool.drop(pool.all[0], { kind: 'rate-limited', message: 'asked to wait 120 s: Rate limit reached' });
    const notices = new EndpointDropNotices();
    const other: RunEvent = { type: 'waiting', delayMs: 10, reason: 'rate-limited' };
    const shown = [other, ...events, ...events].map((e) => notices.onEvent(e)).filter((m) => m !== undefined);
    assert.deepStrictEqual(shown, [
      'Batch Prompt: endpoint two left the run: auth: The endpoint refused the API key. Its batches go to one, three.',
      'Batch Prompt: endpoint one left the run: rate-limited: asked to wait 120 s: Rate limit reached. Its batches go to three.',
    ]);
    // Another run tells again.
    assert.ok(new EndpointDropNotices().onEvent(events[0])?.includes('endpoint two left the run'));
  });

  it('the last endpoint leaving says the run stops', () => {
    const { pool, events } = poolOf('a', 'b');
    pool.drop(pool.all[0], { kind: 'auth', message: 'refused' });
    pool.drop(pool.all[1], { kind: 'auth', message: 'refused too' });
    const notices = new EndpointDropNotices();
    assert.strictEqual(notices.onEvent(events[1]), 'Batch Prompt: endpoint b left the run: auth: refused too. No endpoint is left; the run stops.');
  });

  it('a reason is told on one line, whatever the provider\'s message holds', () => {
    assert.strictEqual(endpointReason({ kind: 'transient', message: 'HTTP 502:\n  upstream\tdown. \n' }), 'transient: HTTP 502: upstream down');
  });

  it('the end-of-run note and the report name the dropped endpoints; none dropped, nothing said', () => {
    const { pool } = poolOf('one', 'two', 'three');
    assert.strictEqual(droppedEndpointsNote({ endpoints: pool.summaries() }), undefined);
    assert.strictEqual(droppedEndpointsNote({}), undefined);
    pool.drop(pool.all[2], { kind: 'transient', message: '3 failures in a row, the last: 500.' });
    assert.strictEqual(droppedEndpointsNote({ endpoints: pool.summaries() }), 'Endpoint three (transient: 3 failures in a row, the last: 500) left the run; the others took its batches.');
    pool.drop(pool.all[0], { kind: 'auth', message: 'refused' });
    assert.strictEqual(droppedEndpointsNote({ endpoints: pool.summaries() }), 'Endpoints one (auth: refused); three (transient: 3 failures in a row, the last: 500) left the run; the others took their batches.');
    const summary = { runId: 'r', status: 'succeeded', succeeded: 1, failed: 0, canceled: 0, requests: 1, inputTokens: 1, outputTokens: 1, durationMs: 5, files: [], endpoints: pool.summaries() } as unknown as RunSummary;
    const meta = { runId: 'r', prompt: 'P', model: { id: 'one' }, files: [] } as unknown as RunMeta;
    const report = renderReport(meta, summary, []);
    assert.ok(report.includes(`> ${droppedEndpointsNote(summary)!}`), report);
    assert.ok(!renderReport(meta, { ...summary, endpoints: poolOf('x', 'y').pool.summaries() }, []).includes('left the run'));
  });
});
