import * as assert from 'assert';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadItemSchema, parseSchemaText, SchemaError } from '../../../src/core/output/schemaFile';

const read = (p: string) => fs.readFile(p, 'utf8');

describe('output schema files', () => {
  let dir: string;
  let prompt: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bp-schema-'));
    await fs.mkdir(path.join(dir, 'prompts', 'schemas'), { recursive: true });
    prompt = path.join(dir, 'prompts', 'review.prompt.md');
    await fs.writeFile(path.join(dir, 'prompts', 'schemas', 'ok.json'), '{ "type": "object", "properties": { "n": { "type": "integer" } } }');
    await fs.writeFile(path.join(dir, 'prompts', 'schemas', 'broken.json'), '{\n  "type": "object",\n  "properties": {,}\n}');
    await fs.writeFile(path.join(dir, 'prompts', 'schemas', 'bad.json'), '{ "type": "object", "properties": { "n": { "type": "integr" } } }');
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('reads a schema file relative to the prompt file', async () => {
    const s = await loadItemSchema({ path: './schemas/ok.json' }, prompt, read);
    assert.strictEqual(s.type, 'object');
  });

  it('takes an inline schema as it is, once checked', async () => {
    const inline = { type: 'array', items: { type: 'string' } };
    assert.strictEqual(await loadItemSchema({ inline }, prompt, read), inline);
    await assert.rejects(loadItemSchema({ inline: { type: 'strin' } }, prompt, read), (e: unknown) => SchemaError.is(e) && /inline schema in .*review\.prompt\.md is not a valid JSON Schema \(draft-07\) at \/type/.test(e.message));
  });

  it('refuses a schema path outside the workspace folder before reading it', async () => {
    const reads: string[] = [];
    const spy = (p: string) => (reads.push(p), read(p));
    const root = path.join(dir, 'prompts');
    assert.ok(await loadItemSchema({ path: 'schemas/ok.json' }, prompt, spy, root));
    await assert.rejects(loadItemSchema({ path: '../../etc/secret.json' }, prompt, spy, root), (e: unknown) => SchemaError.is(e) && /"\.\.\/\.\.\/etc\/secret\.json" in .*review\.prompt\.md is outside the workspace folder/.test(e.message));
    await assert.rejects(loadItemSchema({ path: '/etc/secret.json' }, prompt, spy, root), /outside the workspace folder/);
    await assert.rejects(loadItemSchema({ path: '../prompts-evil/x.json' }, prompt, spy, path.join(dir, 'prompts')), /outside the workspace folder/);
    await fs.writeFile(path.join(root, '..dots.json'), '{}');
    assert.ok(await loadItemSchema({ path: '..dots.json' }, prompt, spy, root), 'a name that starts with dots is inside');
    assert.deepStrictEqual(reads, [path.join(root, 'schemas', 'ok.json'), path.join(root, '..dots.json')]);
  });

  it('refuses a missing file, naming it', async () => {
    const file = path.join(dir, 'prompts', 'nope.json');
    await assert.rejects(loadItemSchema({ path: 'nope.json' }, prompt, read), (e: unknown) => SchemaError.is(e) && e.message === `Schema ${file} cannot be read: the file does not exist.`);
  });

  it('refuses a file that is not JSON, with the line and column', async () => {
    await assert.rejects(loadItemSchema({ path: 'schemas/broken.json' }, prompt, read), (e: unknown) => SchemaError.is(e) && /broken\.json is not valid JSON at line 3, column 18: [^\n]+\.$/.test(e.message) && !/position/.test(e.message));
  });

  it('refuses a file that is not valid JSON Schema, with the location of the error', async () => {
    await assert.rejects(loadItemSchema({ path: 'schemas/bad.json' }, prompt, read), (e: unknown) => {
      assert.ok(SchemaError.is(e));
      assert.match(e.message, /bad\.json is not a valid JSON Schema \(draft-07\) at \/properties\/n\/type: must be equal to one of the allowed values/);
      return true;
    });
  });

  it('refuses a top level that is not an object, an unsupported dialect and an unresolvable $ref', () => {
    assert.throws(() => parseSchemaText('[1]', 'x.json'), /x\.json is not a JSON Schema: its top level must be an object/);
    assert.throws(() => parseSchemaText('{"$schema":"http://json-schema.org/draft-04/schema#"}', 'x.json'), /not supported: use draft-07, 2019-09 or 2020-12/);
    assert.throws(() => parseSchemaText('{"properties":{"a":{"$ref":"#/definitions/missing"}}}', 'x.json'), (e: unknown) => SchemaError.is(e) && /x\.json cannot be used: .*missing/.test(e.message));
    assert.ok(parseSchemaText('{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","x-ui":1,"properties":{"d":{"type":"string","format":"date-time"}}}', 'x.json'));
  });
});
