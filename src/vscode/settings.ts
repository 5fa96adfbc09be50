import * as vscode from 'vscode';
import { normalizeSettings, SETTINGS_SECTION, type Settings } from './settingsSchema';

/**
 * The extension's settings, read in one place. In an untrusted workspace VS Code itself returns only
 * user values for the restricted settings (`models`, `outputDirectory`; see package.json).
 */
export function readSettings(scope?: vscode.ConfigurationScope, problems?: string[]): Settings {
  const config = vscode.workspace.getConfiguration(SETTINGS_SECTION, scope);
  return normalizeSettings((key) => config.get(key), problems);
}

export type { Settings };
