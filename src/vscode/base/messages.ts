import * as vscode from 'vscode';
import { Commands } from './ids';
import type { KeyedEndpoint } from './keyBinding';
import type { Log } from './log';

// The one home of the notifications the user sees and of what their buttons do (after src/messages.ts
// in gitkraken/vscode-gitlens). Features say what to tell; this module shows it. `vscode.window` is
// read at each call, never kept: the integration tests wrap its functions to see and answer messages.
// Details go to the log; a message stays short and offers the action that helps ("Open Log",
// "Set API Key", "Open Settings").

export type MessageKind = 'info' | 'warning' | 'error';

/** Button titles shown in more than one place. */
export const Actions = {
  openLog: 'Open Log',
  setApiKey: 'Set API Key',
  openSettings: 'Open Settings',
} as const;

/** Shows a message; resolves to the title of the button clicked (undefined when dismissed). */
export function showMessage(kind: MessageKind, text: string, ...buttons: string[]): Thenable<string | undefined> {
  if (kind === 'error') return vscode.window.showErrorMessage(text, ...buttons);
  if (kind === 'warning') return vscode.window.showWarningMessage(text, ...buttons);
  return vscode.window.showInformationMessage(text, ...buttons);
}

/** A notification without buttons; nothing waits for it. */
export function showInfo(text: string): void {
  void showMessage('info', text);
}
export function showWarning(text: string): void {
  void showMessage('warning', text);
}
export function showError(text: string): void {
  void showMessage('error', text);
}

/**
 * Shows a message whose buttons (the keys of `actions`, in order) each run their action; resolves once
 * the clicked action is done. Callers that must not wait (nobody may click) `void` it.
 */
export async function showWithActions(kind: MessageKind, text: string, actions: Record<string, () => unknown>): Promise<void> {
  const answer = await showMessage(kind, text, ...Object.keys(actions));
  if (answer !== undefined && Object.hasOwn(actions, answer)) await actions[answer]();
}

/** A modal question (`detail` under it); true when the user clicked `button`. */
export async function askModal(kind: 'info' | 'warning', text: string, detail: string, button: string): Promise<boolean> {
  const options: vscode.MessageOptions = { modal: true, detail };
  const answer = kind === 'warning' ? await vscode.window.showWarningMessage(text, options, button) : await vscode.window.showInformationMessage(text, options, button);
  return answer === button;
}

/** The action of an "Open Settings" button: the Settings editor, filtered to `setting`. */
export function openSettings(setting: string): () => Thenable<unknown> {
  return () => vscode.commands.executeCommand('workbench.action.openSettings', setting);
}

/**
 * An error with "Set API Key" (`setKey`: the key of that endpoint is missing or refused; an endpoint
 * left undefined lets the command ask which) and "Open Log" (`log`), each offered when given. The one
 * home of this handling for runs, retries and batch jobs. `text` is shown as given: redact it first.
 */
export function showErrorWithActions(text: string, offer: { setKey?: { endpoint: KeyedEndpoint | undefined }; log?: Log }): Promise<void> {
  const actions: Record<string, () => unknown> = {};
  if (offer.setKey) actions[Actions.setApiKey] = () => vscode.commands.executeCommand(Commands.setApiKey, offer.setKey!.endpoint);
  if (offer.log) actions[Actions.openLog] = () => offer.log!.show();
  return showWithActions('error', text, actions);
}
