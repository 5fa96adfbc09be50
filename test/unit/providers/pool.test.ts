import * as assert from 'assert';
import type { ChatModel } from '../../../src/core/execute/model';
import { createModel } from '../../../src/providers/factory';
import { useServer } from '../../support/localServer';
import { ModelServer } from '../../support/modelServer';
import { AnthropicServer } from '../../support/anthropicServer';
import { OllamaServer } from '../../support/ollamaServer';

const request = (i: number) => ({ messages: [{ role: 'user' as const, content: `<chunk id="c${i}" path="a.txt" lines="1-1">\nhello ${i}\n</chunk>` }] });

/** Sends `n` requests, `parallel` at a time, and returns the texts (all must succeed). */
async function send(model: ChatModel, n: number, parallel: number, onText?: (delta: string) => void): Promise<string[]> {
  const out: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = (await model.complete(request(i), { signal: new AbortController().signal, onText })).text;
      }
    }),
  );
  return out;
}

describe('connection pool', () => {
  describe('OpenAI-compatible endpoint', () => {
    const server = new ModelServer();
    let baseUrl = '';
    useServer(server, (url) => (baseUrl = url));

    it('sends a run of sequential requests over one keep-alive connection', async () => {
      const before = server.connectionsOpened;
      const model = createModel({ id: 'e', provider: 'openai', baseUrl, model: 'm' }, undefined, { connections: 1 });
      const texts = await send(model, 30, 1);
      assert.strictEqual(texts.length, 30);
      assert.strictEqual(server.requests.length, 30);
      assert.strictEqual(server.connectionsOpened - before, 1, 'one socket for 30 requests, not one per request');
    });

    it('never opens more connections than the pool holds, even with more requests in flight', async () => {
      server.script = () => ({ kind: 'ok', delayMs: 30 });
      const before = server.connectionsOpened;
      const model = createModel({ id: 'e', provider: 'openai', baseUrl, model: 'm' }, undefined, { connections: 3 });
      const texts = await send(model, 24, 8);
      assert.ok(texts.every((t, i) => t.includes(`OUT[c${i}]`)), 'every reply belongs to its own request');
      const opened = server.connectionsOpened - before;
      assert.strictEqual(opened, 3, `3 sockets for 24 requests 8 at a time (opened ${opened})`);
    });

    it('sends streamed requests through the same pool', async () => {
      const before = server.connectionsOpened;
      const model = createModel({ id: 'e', provider: 'openai', baseUrl, model: 'm' }, undefined, { connections: 2 });
      let deltas = '';
      const texts: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 5 }, async () => {
          while (next < 15) {
            const i = next++;
            texts[i] = (await model.complete(request(i), { signal: new AbortController().signal, onText: (d) => (deltas += d) })).text;
          }
        }),
      );
      assert.ok(server.requests.every((r) => r.body.stream === true), 'every request asked for a stream');
      assert.ok(texts.every((t, i) => t.includes(`OUT[c${i}]`)));
      assert.strictEqual(deltas.length, texts.join('').length, 'the streamed text arrived through onText');
      assert.strictEqual(server.connectionsOpened - before, 2, '2 sockets for 15 streamed requests 5 at a time');
    });

    it('cancels a request waiting for a pooled connection without breaking the pool', async () => {
      server.script = (r) => (r.n === 1 ? { kind: 'ok', delayMs: 300 } : undefined);
      const model = createModel({ id: 'e', provider: 'openai', baseUrl, model: 'm' }, undefined, { connections: 1 });
      const slow = model.complete(request(1), { signal: new AbortController().signal });
      const abort = new AbortController();
      const queued = model.complete(request(2), { signal: abort.signal });
      setTimeout(() => abort.abort(), 50);
      await assert.rejects(queued, (e: Error) => e.name === 'CanceledError' || /cancel/i.test(e.message));
      assert.match((await slow).text, /OUT\[c1\]/);
      assert.match((await model.complete(request(3), { signal: new AbortController().signal })).text, /OUT\[c3\]/);
    });
  });

  for (const [name, make] of [
    ['Anthropic', () => new AnthropicServer()],
    ['Ollama', () => new OllamaServer()],
  ] as const) {
    describe(`${name} endpoint`, () => {
      const server = make();
      let baseUrl = '';
      useServer(server, (url) => (baseUrl = url));

      for (const streamed of [false, true]) {
        it(`reuses the pool's connections${streamed ? ' for streamed replies' : ''}`, async () => {
          const before = server.connectionsOpened;
          const model = createModel({ id: 'e', provider: name === 'Anthropic' ? 'anthropic' : 'ollama', baseUrl, model: name === 'Anthropic' ? 'claude-test' : 'llama3.2' }, 'sk-test-key', { connections: 2 });
          let deltas = 0;
          await send(model, 20, 2, streamed ? () => deltas++ : undefined);
          const opened = server.connectionsOpened - before;
          assert.ok(opened >= 1 && opened <= 2, `at most 2 sockets for 20 requests (opened ${opened})`);
          if (streamed) assert.ok(deltas >= 20, 'the replies were streamed');
        });
      }
    });
  }
});
