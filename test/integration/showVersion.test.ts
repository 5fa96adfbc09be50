// The placeholder command, run through the real extension host: activation, registration, result.
import * as assert from 'assert';
import * as vscode from 'vscode';

const EXTENSION_ID = 'batch-prompt.batch-prompt';

function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is loaded from the working tree`);
  return ext;
}

describe('Batch Prompt: Show Version (extension host)', () => {
  it('activates', async () => {
    await extension().activate();
    assert.strictEqual(extension().isActive, true);
  });

  it('registers batchPrompt.showVersion', async () => {
    const registered = await vscode.commands.getCommands(true);
    assert.ok(registered.includes('batchPrompt.showVersion'));
  });

  it('batchPrompt.showVersion returns the package version', async () => {
    const version = await vscode.commands.executeCommand<string>('batchPrompt.showVersion');
    assert.strictEqual(version, extension().packageJSON.version);
    assert.match(version, /^\d+\.\d+\.\d+/);
  });
});
