import * as vscode from 'vscode';
import { parsePromptFile } from '../../core/input/promptFile';
import { reduceSpecOfFile, reduceSpecOfFront, reduceSpecOfText, ReduceSpecError, type ReduceSpec } from '../../core/reduce/spec';
import { showError } from '../base/messages';
import { confinedReader, folderOf } from '../run/prompts';

/** What the combining prompt picker gives: a prompt (and its output), or "finish the interrupted combine". */
export type ReduceChoice = { spec: ReduceSpec; label: string } | { resume: true };

const RECENT_KEY = 'batchPrompt.recentReducePrompts';
const MAX_RECENT = 10;
/** The picker's item that types a combining prompt (tests pick it by this text). */
export const TYPE_REDUCE = 'Type a combining prompt…';
/** The picker's item that finishes an interrupted combine. */
export const FINISH_REDUCE = 'Finish the interrupted combine';

type Item = vscode.QuickPickItem & { run: () => Promise<ReduceChoice | undefined> };

/**
 * Asks for the combining prompt of "Combine Results…": type one, reuse a recent one, or pick a
 * `*.prompt.md` file: one whose front matter has `reduce:` / `reduceFile:` gives that reduce, another
 * one its body (its `output: json` and schema make the answer `answer.json`). `interrupted`: the prompt
 * of a reduce of this run that did not finish, offered first to finish it.
 */
export async function pickReducePrompt(state: vscode.Memento, interrupted?: string): Promise<ReduceChoice | undefined> {
  const recent = state.get<unknown>(RECENT_KEY, []);
  const recents = Array.isArray(recent) ? recent.filter((r): r is string => typeof r === 'string') : [];
  const items: Item[] = [];
  if (interrupted !== undefined) {
    items.push({ label: `$(debug-continue) ${FINISH_REDUCE}`, detail: `${firstLine(interrupted)} · finished groups are not sent again`, alwaysShow: true, run: async () => ({ resume: true }) });
  }
  items.push({ label: `$(edit) ${TYPE_REDUCE}`, detail: 'One answer for the whole run, from every file\'s result', alwaysShow: true, run: () => typeReducePrompt(state, recents[0]) });
  if (recents.length) items.push({ label: 'Recent', kind: vscode.QuickPickItemKind.Separator, run: async () => undefined });
  for (const text of recents) items.push({ label: `$(history) ${firstLine(text)}`, run: async () => remember(state, text) });
  const files = await vscode.workspace.findFiles('**/*.prompt.md', '**/node_modules/**', 200);
  files.sort((a, b) => a.path.localeCompare(b.path));
  const fileItems: Item[] = [];
  for (const uri of files) {
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    const parsed = parsePromptFile(text);
    const where = vscode.workspace.asRelativePath(uri);
    const name = parsed.description ?? uri.path.split('/').pop()!.replace(/\.prompt\.md$/, '');
    const own = parsed.reduce !== undefined || parsed.reduceFile !== undefined;
    if (!own && !parsed.body) continue;
    const read = confinedReader(folderOf(uri));
    fileItems.push({
      label: `$(file) ${name}`,
      description: `${where}${own ? ' · its reduce' : parsed.output === 'json' ? ' · json' : ''}`,
      detail: own ? firstLine(parsed.reduce ?? `reduceFile: ${parsed.reduceFile}`) : undefined,
      run: () => refused(async () => ({ spec: (own ? await reduceSpecOfFront(parsed, uri.fsPath, where, read, folderOf(uri)) : await reduceSpecOfFile(text, uri.fsPath, where, read, folderOf(uri)))!, label: name })),
    });
  }
  // A prompt file that declares its own reduce first: it is what a combining prompt file is for.
  fileItems.sort((a, b) => Number(!a.description!.endsWith('its reduce')) - Number(!b.description!.endsWith('its reduce')));
  if (fileItems.length) items.push({ label: 'Prompt files', kind: vscode.QuickPickItemKind.Separator, run: async () => undefined }, ...fileItems);
  const picked = await vscode.window.showQuickPick(items, { title: 'Batch Prompt: combine the results with which prompt?', placeHolder: 'Type a combining prompt, or pick a recent one or a prompt file', matchOnDescription: true, matchOnDetail: true });
  return picked?.run();
}

async function refused(read: () => Promise<ReduceChoice>): Promise<ReduceChoice | undefined> {
  try {
    return await read();
  } catch (e) {
    if (!ReduceSpecError.is(e)) throw e;
    showError(`Batch Prompt: ${e.message} Nothing was sent.`);
    return undefined;
  }
}

async function typeReducePrompt(state: vscode.Memento, last: string | undefined): Promise<ReduceChoice | undefined> {
  const text = await vscode.window.showInputBox({
    title: 'Batch Prompt: combining prompt',
    prompt: 'What one answer should the results of every file make? (The model combines them, in groups when they are many.)',
    value: last,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'The prompt is empty.'),
  });
  if (!text?.trim()) return undefined;
  return remember(state, text.trim());
}

async function remember(state: vscode.Memento, text: string): Promise<ReduceChoice> {
  const stored = state.get<unknown>(RECENT_KEY, []);
  const before = Array.isArray(stored) ? stored.filter((r): r is string => typeof r === 'string' && r !== text) : [];
  await state.update(RECENT_KEY, [text, ...before].slice(0, MAX_RECENT));
  return { spec: reduceSpecOfText(text, 'typed'), label: firstLine(text) };
}

function firstLine(text: string): string {
  const line = text.trim().split(/\r?\n/)[0];
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}
