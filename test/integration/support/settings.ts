// User settings for one test, put back afterwards. User (Global) settings, so nothing is written into the
// workspace folder whose listing the tests compare.
import * as vscode from 'vscode';
import { ModelServer } from '../../support/modelServer';

const touched = new Set<string>();

/** Sets `section.key` settings in the user settings; `resetSettings()` removes them again. */
export async function setSettings(section: string, values: Record<string, unknown>): Promise<void> {
  const config = vscode.workspace.getConfiguration(section);
  // VS Code queues writes to settings.json; sending them together saves a round trip each.
  await Promise.all(
    Object.entries(values).map(([key, value]) => {
      touched.add(`${section}.${key}`);
      return config.update(key, value, vscode.ConfigurationTarget.Global);
    }),
  );
}

/** Removes the settings `setSettings` wrote since they were last reset (those of `section` only, if given). */
export async function resetSettings(section?: string): Promise<void> {
  const keys = [...touched].filter((k) => !section || k.startsWith(`${section}.`));
  for (const k of keys) touched.delete(k);
  await Promise.all(
    keys.map((full) => {
      const dot = full.lastIndexOf('.');
      return vscode.workspace.getConfiguration(full.slice(0, dot)).update(full.slice(dot + 1), undefined, vscode.ConfigurationTarget.Global);
    }),
  );
}

/**
 * An OpenAI-compatible endpoint on this machine (no key needed), `confirmAbove` high so no modal dialog
 * blocks, and the result cache off so that every run sends its chunks and writes only its run folder
 * (resume.test.ts turns it on).
 */
export async function useLocalEndpoint(baseUrl: string, extra: Record<string, unknown> = {}): Promise<void> {
  await setSettings('batchPrompt', {
    models: [{ id: 'local', provider: 'openai', baseUrl, model: 'm' }],
    confirmAbove: 100000,
    useCache: false,
    ...extra,
  });
}

/**
 * A local model server of its own for each test (`onStart` gets it and its URL); after the test,
 * batchPrompt's settings are reset, then the server stops.
 */
export function useModelServerEachTest(onStart: (server: ModelServer, baseUrl: string) => void): void {
  let server: ModelServer | undefined;
  beforeEach(async () => {
    server = new ModelServer();
    onStart(server, await server.start());
  });
  afterEach(async () => {
    await resetSettings('batchPrompt');
    await server?.stop();
  });
}
