// #17 "Memory": joining a file's chunk outputs is linear. The old join asked the growing result whether
// it ended with a line break for every output (V8 flattens a concatenation to answer: quadratic on a
// file of thousands of chunks). The join must give the old result, and the strings its operations look
// at must add up to a bounded multiple of the outputs' length: counted, never timed.
import * as assert from 'assert';
import { joinOutputs } from '../../../src/util/text';
import { rng } from '../../support/random';

/** The join before #17, kept as the reference. */
function oldJoin(outputs: readonly string[]): string {
  let out = '';
  for (const o of outputs) {
    if (out && !out.endsWith('\n') && o && !o.startsWith('\n')) out += '\n';
    out += o;
  }
  return out;
}

describe('joinOutputs (#17: linear)', () => {
  it('gives the old result on overlapping chunk outputs, empty ones and line breaks at either end', () => {
    const r = rng(17);
    const pieces = ['', '\n', 'a', 'a\n', '\nb', 'line 1\nline 2', 'x\n\n', '\n\ny', '😀', 'end'];
    for (let n = 0; n < 500; n++) {
      const outputs = Array.from({ length: Math.floor(r() * 8) }, () => pieces[Math.floor(r() * pieces.length)]);
      assert.strictEqual(joinOutputs(outputs), oldJoin(outputs), JSON.stringify(outputs));
    }
    // Outputs of overlapping chunks (each repeats the end of the one before): joined as they are.
    const text = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n');
    const overlapping = [0, 10, 20, 30].map((from) => text.split('\n').slice(from, from + 15).join('\n'));
    assert.strictEqual(joinOutputs(overlapping), oldJoin(overlapping));
    assert.strictEqual(joinOutputs([]), '');
  });

  it('looks at strings adding up to at most twice the outputs on a large file (operations counted)', () => {
    const outputs = Array.from({ length: 50_000 }, (_, i) => (i % 3 === 0 ? `output ${i}\n` : i % 3 === 1 ? `output ${i}` : `\noutput ${i}`));
    const proto = String.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    const names = ['endsWith', 'startsWith', 'charCodeAt', 'charAt', 'at', 'indexOf', 'lastIndexOf', 'slice', 'substring', 'concat'];
    const saved = names.map((n) => proto[n]);
    const count = (join: (o: readonly string[]) => string, outputs: readonly string[]) => {
      let ops = 0;
      let looked = 0;
      for (const [i, n] of names.entries()) {
        proto[n] = function (this: string, ...a: unknown[]) {
          ops++;
          looked += this.length;
          return saved[i].apply(this, a);
        };
      }
      try {
        return { joined: join(outputs), ops, looked };
      } finally {
        for (const [i, n] of names.entries()) proto[n] = saved[i];
      }
    };
    const chars = outputs.reduce((n, o) => n + o.length, 0);
    const now = count(joinOutputs, outputs);
    assert.ok(now.ops <= 2 * outputs.length, `${now.ops} string operations for ${outputs.length} outputs`);
    assert.ok(now.looked <= 2 * chars, `operations on ${now.looked} characters for ${chars}`);
    // The measure tells: the old join looked at its growing result each time.
    const few = outputs.slice(0, 2000);
    assert.strictEqual(joinOutputs(few), oldJoin(few));
    assert.ok(now.joined.startsWith(joinOutputs(few)) && now.joined.length === chars + outputs.filter((o, i) => i > 0 && !o.startsWith('\n') && !outputs[i - 1].endsWith('\n')).length);
    assert.ok(count(oldJoin, few).looked > 100 * few.reduce((n, o) => n + o.length, 0));
  });
});
