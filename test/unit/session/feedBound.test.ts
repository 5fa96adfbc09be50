// #17 "Memory": the feed between a run's planner and its executor is bounded. When requests are
// behind, the executor takes a batch only when its queue is below its slots, the feed fills up to
// FEED_BOUND and the planner waits: planned-but-unsent text does not pile up. Proved by the order of
// events (what was pushed, fed and sent before a request was answered), never by time.
import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ChatModel, ChatRequest, ChatResponse } from '../../../src/core/execute/model';
import type { RunParameters } from '../../../src/core/session/record';
import { FEED_BOUND, FeedQueue, STEP_BACKLOG } from '../../../src/core/session/feed';
import { runPlanning } from '../../../src/core/session/planning';
import { getTokenizer } from '../../../src/core/plan/tokenizer';
import type { ChunkRef, PackedRequest, SourceFile } from '../../../src/core/plan/types';
import { chunksOf, taggedReply } from '../../support/scriptedModel';
import { settle } from '../../support/turns';

const batch = (n: number): PackedRequest<ChunkRef> => ({ id: `b${n}`, chunks: [], tokens: 1 });


/** A model whose replies wait until the test releases them. */
class HeldModel implements ChatModel {
  readonly id = 'held';
  readonly supportsSystemMessage = true;
  readonly structuredOutput = false;
  requests = 0;
  private held: (() => void)[] = [];
  private open = false;

  async complete(request: ChatRequest): Promise<ChatResponse> {
    this.requests++;
    if (!this.open) await new Promise<void>((resolve) => this.held.push(resolve));
    return { text: taggedReply(chunksOf(request), (c) => c.body.toUpperCase()), finishReason: 'stop', usage: { inputTokens: 10, outputTokens: 10 } };
  }

  release(): void {
    this.open = true;
    for (const r of this.held.splice(0)) r();
  }
}

describe('the bounded feed between planner and executor (#17)', () => {
  it('a push waits while the feed holds its bound, and goes on once a batch is read', async () => {
    const feed = new FeedQueue(3);
    const events: string[] = [];
    for (let i = 1; i <= 3; i++) await feed.push(batch(i)).then(() => events.push(`pushed ${i}`));
    const fourth = feed.push(batch(4)).then(() => events.push('pushed 4'));
    const room = feed.room().then(() => events.push('room'));
    await settle();
    assert.deepStrictEqual(events, ['pushed 1', 'pushed 2', 'pushed 3'], 'the fourth push and the room wait while the feed is full');
    const reader = feed[Symbol.asyncIterator]();
    const first = await reader.next();
    assert.strictEqual((first.value as PackedRequest<ChunkRef>).id, 'b1');
    await fourth;
    await settle();
    assert.deepStrictEqual(events, ['pushed 1', 'pushed 2', 'pushed 3', 'pushed 4'], 'the fourth push went once b1 was read');
    assert.ok(!events.includes('room'), 'the feed is full again with the fourth batch');
    feed.close();
    await room;
    await assert.rejects(feed.push(batch(5)), /closed/);
    const rest: string[] = [];
    for (let r = await reader.next(); !r.done; r = await reader.next()) rest.push(r.value.id);
    assert.deepStrictEqual(rest, ['b2', 'b3', 'b4'], 'what was pushed is still read after the close');
  });

  it('a run plans no further than the feed bound while its requests are held, then finishes every chunk', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-feed-'));
    try {
      const files: SourceFile[] = Array.from({ length: FEED_BOUND * 3 }, (_, i) => ({ path: `f${String(i).padStart(3, '0')}.txt`, text: `file ${i}\n` }));
      const model = new HeldModel();
      let fed = 0;
      let reads = 0;
      const parameters: RunParameters = { maxConcurrency: 1, maxRetries: 0, requestTimeoutMs: 60_000, chunkTokens: 200, overlapTokens: 0, chunksPerBatch: 1, maxBatchTokens: 32768 };
      const run = runPlanning({
        root: dir,
        dir: path.join(dir, 'run'),
        prompt: 'Upper-case it.',
        model,
        modelInfo: { id: 'held' },
        tokenizer: getTokenizer(),
        parameters,
        planning: { inputs: ['.'], respectGitignore: false, maxFileBytes: 1 << 20 },
        read: async () => {
          reads++;
          throw new Error('read from disk');
        },
        files: async (add) => {
          for (const f of files) {
            fed++;
            await add(f);
          }
        },
      });
      while (model.requests === 0) await settle(1);
      await settle(200);
      // In flight 1, queued 1 (one slot), the feed's bound, then what waits between planner and feed: the
      // steps' backlog (a file step and a batch step per file here), the packer's open batch and the file
      // being added. The exact number within that depends on how the steps interleave (40 seen on a busy
      // machine, 36 on a quiet one): the point is a bound well below the corpus, not an exact count.
      const bound = FEED_BOUND + 2 + STEP_BACKLOG + 2;
      assert.ok(bound < files.length, 'the corpus is larger than the bound');
      assert.ok(fed <= bound, `the planner was fed ${fed} of ${files.length} files while one request was held (bound ${bound})`);
      assert.strictEqual(model.requests, 1);
      model.release();
      const { summary } = await run;
      assert.strictEqual(fed, files.length);
      assert.strictEqual(summary?.status, 'succeeded');
      assert.strictEqual(summary?.succeeded, files.length);
      assert.strictEqual(reads, 0, 'the chunks were cut from the texts read for planning: no file was read twice');
    } finally {
      await fs.rm(dir, { recursive: true, force: true, maxRetries: 5 }).catch(() => undefined);
    }
  });
});
