import * as assert from 'assert';
import Ajv from 'ajv';
import { batchAnswerSchema, FINDINGS_SCHEMA, isOutputKind, itemSchemaFor, locateFindings, type JsonSchema } from '../../../src/core/output/kind';

describe('output kinds', () => {
  it('knows text, findings, json and edit, and nothing else', () => {
    assert.ok(isOutputKind('text') && isOutputKind('findings') && isOutputKind('json') && isOutputKind('edit'));
    assert.ok(!isOutputKind('edits') && !isOutputKind('') && !isOutputKind(undefined) && !isOutputKind(1));
  });

  it('gives the built-in schema for findings, the user schema for json, none for text', () => {
    const user = { type: 'object' };
    assert.strictEqual(itemSchemaFor('findings'), FINDINGS_SCHEMA);
    assert.strictEqual(itemSchemaFor('json', user), user);
    assert.strictEqual(itemSchemaFor('text'), undefined);
    assert.throws(() => itemSchemaFor('json'), /needs a schema/);
  });

  it('has a findings schema that accepts the documented shape and refuses others', () => {
    const v = new Ajv({ strict: true }).compile(FINDINGS_SCHEMA);
    assert.ok(v({ findings: [] }));
    assert.ok(v({ findings: [{ line: 3, severity: 'error', message: 'x' }] }));
    assert.ok(v({ findings: [{ line: 3, endLine: 5, column: 2, severity: 'hint', message: 'x', rule: 'r', suggestion: 's' }] }));
    assert.ok(!v({ findings: [{ line: 0, severity: 'error', message: 'x' }] }), 'line 0');
    assert.ok(!v({ findings: [{ line: 1.5, severity: 'error', message: 'x' }] }), 'fractional line');
    assert.ok(!v({ findings: [{ line: 1, severity: 'fatal', message: 'x' }] }), 'unknown severity');
    assert.ok(!v({ findings: [{ line: 1, severity: 'info', message: 'x', extra: 1 }] }), 'extra property');
    assert.ok(!v({ findings: [{ line: 1, severity: 'info' }] }), 'no message');
    assert.ok(!v([]), 'not an object');
    assert.ok(Object.isFrozen(FINDINGS_SCHEMA));
  });

  it('places a chunk\'s findings in its file', () => {
    assert.deepStrictEqual(locateFindings({ findings: [{ line: 2, severity: 'info', message: 'm' }] }, 'src/a.ts', 'c1'), [{ line: 2, severity: 'info', message: 'm', path: 'src/a.ts', chunkId: 'c1' }]);
  });

  it('wraps an item schema into the batch answer keyed by the batch ids', () => {
    const s = batchAnswerSchema(FINDINGS_SCHEMA, ['c1', 'c2', 'c1']);
    const v = new Ajv({ strict: true }).compile(s);
    const item = { findings: [{ line: 1, severity: 'warning', message: 'm' }] };
    assert.ok(v({ results: [{ id: 'c1', value: item }, { id: 'c2', value: { findings: [] } }] }));
    assert.ok(!v({ results: [{ id: 'c3', value: item }] }), 'an id not in the batch');
    assert.ok(!v({ results: [{ id: 'c1', value: { findings: [{ line: 1 }] } }] }), 'an invalid value');
    assert.ok(!v({ results: [{ id: 'c1' }] }), 'no value');
    assert.ok(!v({ results: [], more: 1 }), 'extra property');
    const results = (s.properties as Record<string, JsonSchema>).results;
    const id = ((results.items as JsonSchema).properties as Record<string, JsonSchema>).id;
    assert.deepStrictEqual(id.enum, ['c1', 'c2']);
    assert.throws(() => batchAnswerSchema(FINDINGS_SCHEMA, []), /at least one/);
  });

  it('keeps an item schema\'s local $refs working once nested, and drops its $schema and $id', () => {
    const item: JsonSchema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://example.invalid/item.json',
      type: 'object',
      required: ['tags'],
      properties: { tags: { type: 'array', items: { $ref: '#/definitions/tag' } } },
      definitions: { tag: { type: 'string', minLength: 2 } },
    };
    const s = batchAnswerSchema(item, ['a']);
    assert.strictEqual(s.$schema, undefined);
    assert.ok(s.definitions);
    const v = new Ajv().compile(s);
    assert.ok(v({ results: [{ id: 'a', value: { tags: ['ok'] } }] }));
    assert.ok(!v({ results: [{ id: 'a', value: { tags: ['x'] } }] }));
    assert.ok(item.definitions && item.$schema, 'the item schema is not changed');
  });
});
