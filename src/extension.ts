import * as vscode from 'vscode';

/** Command ids contributed in package.json. */
export const Commands = {
  showVersion: 'batchPrompt.showVersion',
} as const;

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.showVersion, () => {
      const version = String(context.extension.packageJSON.version ?? 'unknown');
      void vscode.window.showInformationMessage(`Batch Prompt ${version}`);
      return version;
    }),
  );
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions.
}
