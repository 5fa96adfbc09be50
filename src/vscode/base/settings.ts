import * as vscode from 'vscode';
import type { EndpointConfig } from '../../providers/endpoint';
import type { Log } from './log';
import { normalizeModels, normalizeSettings, settingsReader, SETTINGS_SECTION, type Settings } from './settingsSchema';

/**
 * The extension's settings, read in one place. In an untrusted workspace VS Code itself returns only
 * user values for the restricted settings (`capabilities.untrustedWorkspaces.restrictedConfigurations`
 * in package.json); as a second line of defence, this reads each of them (RESTRICTED_SETTINGS) from
 * `inspect()` without its workspace values whenever `vscode.workspace.isTrusted` is false.
 */
export function readSettings(scope?: vscode.ConfigurationScope, problems?: string[]): Settings {
  const config = vscode.workspace.getConfiguration(SETTINGS_SECTION, scope);
  return normalizeSettings(settingsReader(vscode.workspace.isTrusted, (key) => config.get(key), (key) => config.inspect(key)), problems);
}

/** `readSettings()`, with each value ignored (out of bounds, wrong type) written to the log as a warning. */
export function readSettingsReporting(log: Pick<Log, 'warn'>): Settings {
  const problems: string[] = [];
  const settings = readSettings(undefined, problems);
  // Once per change of the problems, not at every read (a run reads the settings many times).
  const key = problems.join('\n');
  if (key !== lastReported) {
    lastReported = key;
    for (const p of problems) log.warn(`Setting ignored: ${p}`);
  }
  return settings;
}

/** The problems `readSettingsReporting` logged last. */
let lastReported = '';

/**
 * The endpoints of the *user's* `batchPrompt.models` (its global value: settings no repository can
 * write). Resume, retry and collect send a key only to one of these (or the Language Model API), and
 * a legacy stored key is bound only to one of these (keyBinding.ts).
 */
export function readUserModels(problems?: string[]): EndpointConfig[] {
  return normalizeModels(vscode.workspace.getConfiguration(SETTINGS_SECTION).inspect('models')?.globalValue, problems ?? []);
}

export type { Settings };
