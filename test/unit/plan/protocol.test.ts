import * as assert from 'assert';
import { buildMessages, parseReply, wrapChunk } from '../../../src/core/plan/protocol';
import type { Chunk } from '../../../src/core/plan/types';

function chunk(id: string, text: string, path = 'src/a.ts'): Chunk {
  return { id, path, index: 0, start: 0, end: text.length, startLine: 1, endLine: text.split('\n').length, overlap: 0, tokens: text.length, text };
}

describe('protocol', () => {
  describe('buildMessages', () => {
    it('puts the prompt in a system message and every chunk, in order, in one user message', () => {
      const msgs = buildMessages('Summarise.', [chunk('1.1', 'alpha'), chunk('2.1', 'beta', 'b "x".ts')], true);
      assert.strictEqual(msgs.length, 2);
      assert.strictEqual(msgs[0].role, 'system');
      assert.ok(msgs[0].content.startsWith('Summarise.'));
      assert.match(msgs[0].content, /<result id="ID">/);
      assert.strictEqual(msgs[1].role, 'user');
      const a = msgs[1].content.indexOf('<chunk id="1.1" path="src/a.ts" lines="1-1">\nalpha\n</chunk>');
      const b = msgs[1].content.indexOf('<chunk id="2.1" path="b &quot;x&quot;.ts" lines="1-1">\nbeta\n</chunk>');
      assert.ok(a >= 0 && b > a, msgs[1].content);
    });

    it('leads the single user message with the prompt when the model has no system message', () => {
      const msgs = buildMessages('Translate.', [chunk('1.1', 'x')], false);
      assert.strictEqual(msgs.length, 1);
      assert.strictEqual(msgs[0].role, 'user');
      assert.ok(msgs[0].content.startsWith('Translate.'));
      assert.ok(msgs[0].content.endsWith(wrapChunk(chunk('1.1', 'x'))));
    });
  });

  describe('parseReply', () => {
    const ids = ['1.1', '1.2', '2.1'];
    const r = (id: string, out: string) => `<result id="${id}">\n${out}\n</result>`;

    it('reads well-formed results', () => {
      const p = parseReply([r('1.1', 'a'), r('1.2', 'b'), r('2.1', 'c')].join('\n'), ids);
      assert.deepStrictEqual([...p.results], [['1.1', 'a'], ['1.2', 'b'], ['2.1', 'c']]);
      assert.deepStrictEqual(p.missing, []);
    });

    it('maps reordered results by id, not position', () => {
      const p = parseReply([r('2.1', 'c'), r('1.1', 'a'), r('1.2', 'b')].join('\n'), ids);
      assert.strictEqual(p.results.get('1.1'), 'a');
      assert.strictEqual(p.results.get('2.1'), 'c');
    });

    it('ignores chatty prose and code fences around the results', () => {
      const reply = `Sure! Here you go:\n\n\`\`\`xml\n${r('1.1', 'a')}\n${r('1.2', 'b')}\n${r('2.1', 'c')}\n\`\`\`\nLet me know if you need more.`;
      const p = parseReply(reply, ids);
      assert.deepStrictEqual([...p.results.values()], ['a', 'b', 'c']);
    });

    it('keeps an output that itself contains </result>', () => {
      const inner = 'code: "</result>" is a tag\nmore';
      const p = parseReply([r('1.1', inner), r('1.2', 'b')].join('\n'), ['1.1', '1.2']);
      assert.strictEqual(p.results.get('1.1'), inner);
      assert.strictEqual(p.results.get('1.2'), 'b');
    });

    it('treats a result cut off at the end as missing', () => {
      const p = parseReply(`${r('1.1', 'a')}\n<result id="1.2">\npartial outp`, ['1.1', '1.2']);
      assert.strictEqual(p.results.get('1.1'), 'a');
      assert.deepStrictEqual(p.missing, ['1.2']);
    });

    it('accepts a result missing its closer when another result follows, unless the reply was truncated', () => {
      const reply = `<result id="1.1">\na\n<result id="1.2">\nb\n</result>`;
      assert.strictEqual(parseReply(reply, ['1.1', '1.2']).results.get('1.1'), 'a\n');
      assert.deepStrictEqual(parseReply(reply, ['1.1', '1.2'], { truncated: true }).missing, ['1.1']);
    });

    it('reports missing and unexpected ids', () => {
      const p = parseReply([r('1.1', 'a'), r('9.9', 'z')].join('\n'), ['1.1', '1.2']);
      assert.deepStrictEqual(p.missing, ['1.2']);
      assert.deepStrictEqual(p.unexpected, ['9.9']);
    });

    it('takes a one-chunk reply without tags as that chunk’s output, but not when cut off or empty', () => {
      assert.strictEqual(parseReply('just the answer\n', ['1.1']).results.get('1.1'), 'just the answer\n');
      assert.deepStrictEqual(parseReply('just the ans', ['1.1'], { truncated: true }).missing, ['1.1']);
      assert.deepStrictEqual(parseReply('  \n', ['1.1']).missing, ['1.1']);
      assert.deepStrictEqual(parseReply('no tags', ['1.1', '1.2']).missing, ['1.1', '1.2']);
    });

    it('keeps the first of duplicated results and handles CRLF replies', () => {
      const p = parseReply(`<result id="1.1">\r\nfirst\r\n</result>\n<result id="1.1">\nsecond\n</result>`, ['1.1']);
      assert.strictEqual(p.results.get('1.1'), 'first');
    });
  });
});
