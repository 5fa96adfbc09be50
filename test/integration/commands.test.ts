// The manifest and the running extension agree: every contributed command is registered once the
// extension is active, and every registered batchPrompt.* command is contributed.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { activateExtension } from './support/extension';

interface Contributes {
  commands: { command: string }[];
  views?: Record<string, { id: string }[]>;
}

describe('Commands (extension host)', () => {
  let contributes: Contributes;

  before(async () => {
    contributes = (await activateExtension()).packageJSON.contributes as Contributes;
  });

  it('registers every command package.json contributes', async () => {
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributes.commands.map((c) => c.command).filter((id) => !registered.has(id));
    assert.deepStrictEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });

  it('contributes every batchPrompt.* command it registers', async () => {
    const contributed = new Set(contributes.commands.map((c) => c.command));
    // VS Code itself registers `<view id>.focus` and the like for each contributed view.
    const viewIds = Object.values(contributes.views ?? {}).flat().map((v) => `${v.id}.`);
    const extra = (await vscode.commands.getCommands(true)).filter((id) => id.startsWith('batchPrompt.') && !contributed.has(id) && !viewIds.some((p) => id.startsWith(p)));
    assert.deepStrictEqual(extra, [], `registered but not contributed: ${extra.join(', ')}`);
  });
});
