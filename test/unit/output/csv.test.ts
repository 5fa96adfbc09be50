import * as assert from 'assert';
import { csvShape, toCsv } from '../../../src/core/output/csv';
import { FINDINGS_SCHEMA } from '../../../src/core/output/kind';

describe('CSV output', () => {
  it('finds the two flat shapes, and refuses the others', () => {
    assert.deepStrictEqual(csvShape({ type: 'object', properties: { name: { type: 'string' }, n: { type: ['integer', 'null'] }, k: { enum: ['a', 'b'] } } }), { kind: 'object', columns: ['name', 'n', 'k'] });
    assert.deepStrictEqual(csvShape(FINDINGS_SCHEMA), { kind: 'array', arrayKey: 'findings', columns: ['line', 'endLine', 'column', 'severity', 'message', 'rule', 'suggestion'], outerColumns: [] });
    assert.deepStrictEqual(
      csvShape({ type: 'object', properties: { file: { type: 'string' }, items: { type: 'array', items: { $ref: '#/$defs/item' } } }, $defs: { item: { type: 'object', properties: { a: { type: 'string' } } } } }),
      { kind: 'array', arrayKey: 'items', columns: ['a'], outerColumns: ['file'] },
    );
    assert.strictEqual(csvShape({ type: 'array', items: { type: 'string' } }), undefined, 'not an object');
    assert.strictEqual(csvShape({ type: 'object', properties: { a: { type: 'object' } } }), undefined, 'nested object');
    assert.strictEqual(csvShape({ type: 'object', properties: { a: { type: 'array', items: { type: 'object', properties: { b: { type: 'string' } } } }, c: { type: 'array', items: { type: 'object', properties: { d: { type: 'string' } } } } } }), undefined, 'two arrays');
    assert.strictEqual(csvShape({ type: 'object', properties: { a: { type: 'array', items: { type: 'string' } } } }), undefined, 'array of scalars');
    assert.strictEqual(csvShape({ type: 'object', properties: { a: { type: 'array', items: { type: 'object', properties: { b: { type: 'array' } } } } } }), undefined, 'items not flat');
    assert.strictEqual(csvShape({ type: 'object' }), undefined, 'no properties');
  });

  it('writes one row per chunk for a flat object, with RFC 4180 quoting', () => {
    const shape = csvShape({ type: 'object', properties: { title: { type: 'string' }, score: { type: 'number' }, ok: { type: 'boolean' } } })!;
    const csv = toCsv(shape, [
      { path: 'a.md', startLine: 1, endLine: 10, value: { title: 'He said "hi", then\nleft', score: 1.5, ok: true } },
      { path: 'b,c.md', startLine: 11, endLine: 20, value: { title: 'plain' } },
      { path: 'd.md', startLine: 1, endLine: 2, value: 'not an object' },
    ]);
    assert.strictEqual(csv, 'path,startLine,endLine,title,score,ok\r\na.md,1,10,"He said ""hi"", then\nleft",1.5,true\r\n"b,c.md",11,20,plain,,\r\nd.md,1,2,,,\r\n');
  });

  it('writes one row per array item, repeating the outer values, and defuses formulas', () => {
    const shape = csvShape({ type: 'object', properties: { path: { type: 'string' }, rows: { type: 'array', items: { type: 'object', properties: { cell: { type: 'string' }, n: { type: 'integer' } } } } } })!;
    const csv = toCsv(shape, [
      { path: 'x.ts', startLine: 1, endLine: 5, value: { path: 'own', rows: [{ cell: '=HYPERLINK("http://x")', n: -3 }, { cell: '@sum', n: 2 }] } },
      { path: 'y.ts', startLine: 1, endLine: 5, value: { path: 'none', rows: [] } },
    ]);
    assert.strictEqual(csv, 'chunk_path,startLine,endLine,path,cell,n\r\nx.ts,1,5,own,"\'=HYPERLINK(""http://x"")",-3\r\nx.ts,1,5,own,\'@sum,2\r\n');
  });
});
