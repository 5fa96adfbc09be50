// Scenario 2: right-click a folder in the Explorer → "Run Prompt on Selection…" → the run covers
// exactly the files under that folder (checked from the local server's request log).
import * as assert from 'assert';
import { filesUnder, localModels, MODEL, removeRuns, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

describe('Run Prompt on Selection… from the Explorer (UI)', () => {
  const local = useModelServer();
  const workbench = useWorkbench('2-run-on-selection', {
    prepare: () => {
      removeRuns();
      writeUserSettings({ 'batchPrompt.models': localModels(local.url()), 'batchPrompt.confirmAbove': 1000 });
    },
  });

  it('runs on exactly the files under the folder that was right-clicked', async () => {
    const wb = workbench();
    const server = local.server();
    // docs/ holds nested files; its sibling docs-archive/ (same prefix) and everything else must not be sent.
    const expected = filesUnder('docs');
    assert.ok(expected.length >= 3 && expected.some((f) => f.startsWith('docs/guide/')), `fixture: ${expected.join(', ')}`);

    const docs = wb.explorerRow('docs');
    await docs.waitFor({ state: 'visible' });
    // The Explorer's context menu lists the command once the extension's contributions are in.
    await wb.contextMenu(docs, 'Run Prompt on Selection…');

    await wb.waitForQuickInput('Batch Prompt: choose a prompt');
    await wb.screenshot('prompt-pick');
    // The workspace's prompt file (.github/prompts/summarize.prompt.md), by its description.
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(new RegExp(`^${MODEL.id}$`));

    await wb.waitForNotification(`${expected.length} of ${expected.length} chunks succeeded`, 30000);
    await wb.screenshot('finished');
    const sent = server.requests.flatMap((r) => r.chunks.map((c) => c.path)).sort();
    assert.deepStrictEqual(sent, expected, 'each file under docs/ sent once, nothing else');
    assert.ok(server.requests.every((r) => r.body.messages?.some((m) => m.content.includes('Summarize this file in one sentence.'))), "the prompt file's prompt");
  });
});
