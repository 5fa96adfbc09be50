// Scenario 6: an endpoint that needs an API key (anthropic, on a second local server) and no key
// stored → the run does not start → the error message's "Set API Key" opens a password input box.
import * as assert from 'assert';
import { removeRuns, runFolders, useAnthropicServer, useModelServer, writeUserSettings } from './support/scenario';
import { useWorkbench } from './support/workbench';

const KEY = 'sk-ant-ui-test-0123456789';

describe('A missing API key (UI)', () => {
  const local = useModelServer();
  const anthropic = useAnthropicServer();
  const workbench = useWorkbench('6-missing-api-key', {
    prepare: () => {
      removeRuns();
      writeUserSettings({
        'batchPrompt.models': [
          { id: 'claude', provider: 'anthropic', baseUrl: anthropic.url(), model: 'claude-test' },
          { id: 'local', provider: 'openai', baseUrl: local.url(), model: 'ui-test-model' },
        ],
        'batchPrompt.confirmAbove': 1000,
      });
    },
  });

  it('does not start the run, and its message opens Set API Key', async () => {
    const wb = workbench();

    await wb.runOnFiles('src/**');
    await wb.pickQuickItem('Summarize each file in one sentence');
    await wb.waitForQuickInput('Batch Prompt: choose a model');
    await wb.pickQuickItem(/^claude$/);

    const message = await wb.waitForNotification('No API key is set for the endpoint "claude"');
    assert.match(await message.innerText(), /The run did not start\./);
    await wb.screenshot('missing-key-message');
    assert.strictEqual(anthropic.server().requests.length + local.server().requests.length, 0, 'no request reached a server');
    assert.deepStrictEqual(runFolders(), [], 'no run folder was created');
    assert.strictEqual(await wb.notification(/\d+\/\d+ chunks/).count(), 0, 'no progress notification');

    // "Set API Key" asks for the key of that endpoint in a password box.
    await wb.clickNotificationButton(message, 'Set API Key');
    const input = await wb.waitForQuickInput('API key for claude');
    assert.strictEqual(await input.getAttribute('type'), 'password', 'the key is typed into a password field');
    await input.fill(KEY);
    await wb.screenshot('set-api-key');
    await input.press('Enter');
    await wb.waitForNotification('API key stored for "claude"');
    await wb.screenshot('key-stored');
    assert.strictEqual(anthropic.server().requests.length, 0, 'storing the key sends nothing');
  });
});
