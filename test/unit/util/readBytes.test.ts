import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readBytes, readBytesAndTime } from '../../../src/util/fs';

describe('readBytes', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-read-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads a file of the size it was stat'ed at, one that grew since (to its end), and one that shrank", async () => {
    const file = path.join(dir, 'f.txt');
    const text = 'x'.repeat(5000) + 'end';
    fs.writeFileSync(file, text);
    assert.strictEqual((await readBytes(file, text.length)).toString(), text);
    // Grown since the stat: several times the size it was stat'ed at, read to the end all the same.
    assert.strictEqual((await readBytes(file, 10)).toString(), text);
    assert.strictEqual((await readBytes(file, 0)).toString(), text);
    // Shrunk since: what is there.
    assert.strictEqual((await readBytes(file, text.length + 100)).toString(), text);
    fs.writeFileSync(file, '');
    assert.strictEqual((await readBytes(file, 100)).length, 0);
  });

  it('rejects a missing file, and an aborted signal before reading', async () => {
    await assert.rejects(readBytes(path.join(dir, 'missing'), 1), { code: 'ENOENT' });
    const file = path.join(dir, 'g.txt');
    fs.writeFileSync(file, 'g');
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await assert.rejects(readBytes(file, 1, controller.signal), /stopped/);
  });

  it('readBytesAndTime reads the bytes and the time, refusing a folder and a file over the bound unread', async () => {
    const file = path.join(dir, 'h.txt');
    fs.writeFileSync(file, 'hello');
    const got = await readBytesAndTime(file);
    assert.strictEqual(got.bytes.toString(), 'hello');
    assert.strictEqual(got.mtimeMs, fs.statSync(file).mtimeMs);
    await assert.rejects(readBytesAndTime(file, 4), /not a file of at most 4 bytes/);
    await assert.rejects(readBytesAndTime(dir), /not a file/);
  });
});
