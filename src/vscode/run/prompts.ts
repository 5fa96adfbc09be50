import * as vscode from 'vscode';
import { parsePromptFile } from '../../core/input/promptFile';

export interface ChosenPrompt {
  text: string;
  /** Short label for reports and the status bar. */
  label: string;
  /** Model id or name asked for by a prompt file. */
  model?: string;
}

/** Arguments a caller (a test, a keybinding) may pass to skip the questions. */
export interface RunArgs {
  glob?: string;
  prompt?: string;
  modelId?: string;
}

/** A prompt given as text (command arguments): its first line, shortened, is its label. */
export function promptFromText(text: string): ChosenPrompt {
  return { text, label: text.split('\n')[0].slice(0, 60) };
}

/** The prompt the arguments give, if any (then the user is not asked). */
export function promptOf(args?: RunArgs): ChosenPrompt | undefined {
  return args?.prompt ? promptFromText(args.prompt) : undefined;
}

const RECENT_KEY = 'batchPrompt.recentPrompts';
const MAX_RECENT = 10;

type Item = vscode.QuickPickItem & { run: () => Promise<ChosenPrompt | undefined> };

/**
 * Asks for a prompt: type a new one, reuse a recent one, or pick a `*.prompt.md` file of the workspace
 * (`.github/prompts/` first), whose `description` labels it and `model` preselects the model.
 */
export async function pickPrompt(state: vscode.Memento): Promise<ChosenPrompt | undefined> {
  const recent = state.get<string[]>(RECENT_KEY, []);
  const files = await vscode.workspace.findFiles('**/*.prompt.md', '**/node_modules/**', 200);
  files.sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
  const items: Item[] = [{ label: '$(edit) Type a prompt…', alwaysShow: true, run: () => typePrompt(state, recent[0]) }];
  if (recent.length) items.push({ label: 'Recent', kind: vscode.QuickPickItemKind.Separator, run: async () => undefined });
  for (const text of recent) {
    items.push({ label: `$(history) ${firstLine(text)}`, detail: text.length > 80 ? text.slice(0, 160) : undefined, run: async () => remember(state, { text, label: firstLine(text) }) });
  }
  if (files.length) items.push({ label: 'Prompt files', kind: vscode.QuickPickItemKind.Separator, run: async () => undefined });
  for (const uri of files) {
    const name = uri.path.split('/').pop()!.replace(/\.prompt\.md$/, '');
    const parsed = parsePromptFile(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)));
    if (!parsed.body) continue;
    items.push({
      label: `$(file) ${parsed.description ?? name}`,
      description: vscode.workspace.asRelativePath(uri),
      run: async () => ({ text: parsed.body, label: parsed.description ?? name, ...(parsed.model ? { model: parsed.model } : {}) }),
    });
  }
  if (items.length === 1) return items[0].run();
  const picked = await vscode.window.showQuickPick(items, { title: 'Batch Prompt: choose a prompt', placeHolder: 'Type a new prompt, or pick a recent one or a prompt file', matchOnDescription: true });
  return picked?.run();
}

async function typePrompt(state: vscode.Memento, last: string | undefined): Promise<ChosenPrompt | undefined> {
  const text = await vscode.window.showInputBox({
    title: 'Batch Prompt: prompt',
    prompt: 'What should the model do with each file? (It sees one chunk of a file at a time.)',
    value: last,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'The prompt is empty.'),
  });
  if (!text?.trim()) return undefined;
  return remember(state, { text: text.trim(), label: firstLine(text) });
}

async function remember(state: vscode.Memento, prompt: ChosenPrompt): Promise<ChosenPrompt> {
  const recent = [prompt.text, ...state.get<string[]>(RECENT_KEY, []).filter((t) => t !== prompt.text)].slice(0, MAX_RECENT);
  await state.update(RECENT_KEY, recent);
  return prompt;
}

function rank(uri: vscode.Uri): number {
  return uri.path.includes('/.github/prompts/') ? 0 : 1;
}

function firstLine(text: string): string {
  const line = text.trim().split(/\r?\n/)[0];
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}
