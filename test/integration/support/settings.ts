// User settings for one test, put back afterwards. User (Global) settings, so nothing is written into the
// workspace folder whose listing the tests compare.
import * as vscode from 'vscode';

const touched = new Set<string>();

/** Sets `section.key` settings in the user settings; `resetSettings()` removes them again. */
export async function setSettings(section: string, values: Record<string, unknown>): Promise<void> {
  const config = vscode.workspace.getConfiguration(section);
  for (const [key, value] of Object.entries(values)) {
    touched.add(`${section}.${key}`);
    await config.update(key, value, vscode.ConfigurationTarget.Global);
  }
}

/** Removes every setting `setSettings` wrote since the last reset. */
export async function resetSettings(): Promise<void> {
  for (const full of touched) {
    const dot = full.lastIndexOf('.');
    await vscode.workspace.getConfiguration(full.slice(0, dot)).update(full.slice(dot + 1), undefined, vscode.ConfigurationTarget.Global);
  }
  touched.clear();
}

/** An OpenAI-compatible endpoint on this machine (no key needed), `confirmAbove` high so no modal dialog blocks. */
export async function useLocalEndpoint(baseUrl: string, extra: Record<string, unknown> = {}): Promise<void> {
  await setSettings('batchPrompt', {
    models: [{ id: 'local', provider: 'openai', baseUrl, model: 'm' }],
    confirmAbove: 100000,
    ...extra,
  });
}
