// A user runs "Batch Prompt: Show Version" from the command palette of the installed extension.
import { manifest, useWorkbench } from './support/workbench';

describe('Batch Prompt: Show Version (UI)', () => {
  const workbench = useWorkbench('show-version');

  it('shows the version in a notification', async () => {
    const wb = workbench();
    await wb.runCommand('Batch Prompt: Show Version');
    await wb.waitForNotification(`Batch Prompt ${manifest().version}`);
    await wb.screenshot('notification');
  });
});
