import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '../../..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('package.json manifest', () => {
  it('is a VS Code extension manifest with the scripts the project documents', () => {
    assert.strictEqual(manifest.name, 'batch-prompt');
    assert.ok(manifest.engines.vscode, 'engines.vscode');
    assert.strictEqual(manifest.main, './dist/extension.js');
    for (const s of ['build', 'watch', 'check-types', 'lint', 'test', 'bench', 'package']) {
      assert.ok(manifest.scripts[s], `script ${s}`);
    }
  });

  it('never activates on "*"', () => {
    assert.ok(!(manifest.activationEvents ?? []).includes('*'));
  });
});
