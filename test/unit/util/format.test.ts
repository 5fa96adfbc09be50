import * as assert from 'assert';
import { countOf, formatNumber, lineRange, setNumberLocale } from '../../../src/util/format';

describe('formatNumber (#18: one number format, the locale\'s)', () => {
  afterEach(() => setNumberLocale('en-US'));

  it('groups thousands as the locale does, rounded to a whole number', () => {
    setNumberLocale('en-US');
    assert.strictEqual(formatNumber(714909), '714,909');
    assert.strictEqual(formatNumber(1234.6), '1,235');
    assert.strictEqual(formatNumber(0), '0');
    setNumberLocale('de-DE');
    assert.strictEqual(formatNumber(714909), '714.909');
    assert.strictEqual(formatNumber(2.25, 1), '2,3');
  });

  it('falls back to the process locale for an unknown one, never throws', () => {
    setNumberLocale('not a locale!');
    assert.strictEqual(formatNumber(5), '5');
  });

  it('countOf names one in the singular', () => {
    setNumberLocale('en-US');
    assert.strictEqual(countOf(1, 'file'), '1 file');
    assert.strictEqual(countOf(1200, 'file'), '1,200 files');
    assert.strictEqual(countOf(0, 'match', 'matches'), '0 matches');
  });

  it('lineRange says one line in the singular ("line 1", not "lines 1–1")', () => {
    assert.strictEqual(lineRange(1, 1), 'line 1');
    assert.strictEqual(lineRange(1, 16), 'lines 1–16');
  });
});
