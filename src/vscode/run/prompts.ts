import * as path from 'path';
import * as vscode from 'vscode';
import { parsePromptFile, type PromptFile } from '../../core/input/promptFile';
import { loadItemSchema, SchemaError } from '../../core/output/schemaFile';
import type { OutputSpec } from '../../core/output/spec';
import { reduceSpecOfFront, ReduceSpecError, type ReduceSpec } from '../../core/reduce/spec';
import { isInside } from '../../core/store/pathGuard';
import { showError } from '../base/messages';
import { readSettings } from '../base/settings';
import { excludeGlob } from './fileSelection';
import { realPathOf } from './runPlanning';
import { runsExcludes } from './runsFolder';

export interface ChosenPrompt {
  text: string;
  /** Short label for reports and the status bar. */
  label: string;
  /** Model id or name asked for by a prompt file. */
  model?: string;
  /**
   * The output kind (#14): a prompt file's `output:`/`schema:`, or the picker's findings item; absent
   * means text. Kept in "Run Last Prompt Again"'s record, so the run is done the same way again.
   */
  output?: OutputSpec;
  /** The reduce a prompt file's `reduce:` / `reduceFile:` asks for (#16): run after the files' results. */
  reduce?: ReduceSpec;
}

/** Arguments a caller (a test, a keybinding) may pass to skip the questions. */
export interface RunArgs {
  glob?: string;
  prompt?: string;
  modelId?: string;
  /**
   * The kind of a prompt given as text: `findings` puts its results in the Problems panel, `edit`
   * rewrites the files into proposals to review (#15). Default text.
   */
  output?: 'text' | 'findings' | 'edit';
}

/** A prompt given as text (command arguments): its first line, shortened, is its label. */
export function promptFromText(text: string, output?: OutputSpec): ChosenPrompt {
  return { text, label: text.split('\n')[0].slice(0, 60), ...(output && output.kind !== 'text' ? { output } : {}) };
}

/** The prompt the arguments give, if any (then the user is not asked). An `output` other than `findings` or `edit` is text. */
export function promptOf(args?: RunArgs): ChosenPrompt | undefined {
  const kind = args?.output === 'findings' || args?.output === 'edit' ? args.output : undefined;
  return args?.prompt ? promptFromText(args.prompt, kind ? { kind } : undefined) : undefined;
}

/**
 * The prompt of a prompt file with its output kind: a front matter with a problem, or a schema that is
 * missing, outside the file's workspace folder or not a valid JSON Schema, refuses the run (the message
 * names the file; nothing is sent). Undefined after telling the user.
 */
export async function promptOfFile(uri: vscode.Uri, parsed: PromptFile, name: string): Promise<ChosenPrompt | undefined> {
  const where = vscode.workspace.asRelativePath(uri);
  if (parsed.problem) {
    showError(`Batch Prompt: the prompt file ${where} cannot be used: ${parsed.problem} Nothing was sent.`);
    return undefined;
  }
  const label = parsed.description ?? name;
  const within = folderOf(uri);
  const read = confinedReader(within);
  let reduce: ReduceSpec | undefined;
  try {
    // A reduce asked for (#16) is read, and refused when empty or missing, before anything is sent.
    reduce = await reduceSpecOfFront(parsed, uri.fsPath, where, read, within);
  } catch (e) {
    if (!ReduceSpecError.is(e)) throw e;
    showError(`Batch Prompt: ${e.message} Nothing was sent.`);
    return undefined;
  }
  const prompt: ChosenPrompt = { text: parsed.body, label, ...(parsed.model ? { model: parsed.model } : {}), ...(reduce ? { reduce } : {}) };
  if (!parsed.output || parsed.output === 'text') return prompt;
  if (parsed.output === 'findings' || parsed.output === 'edit') return { ...prompt, output: { kind: parsed.output } };
  if (!parsed.schema) return prompt; // parsePromptFile reports `output: json` without a schema as a problem
  try {
    const schema = await loadItemSchema(parsed.schema, uri.fsPath, read, within);
    return { ...prompt, output: { kind: 'json', schema } };
  } catch (e) {
    showError(`Batch Prompt: ${SchemaError.is(e) ? e.message : `the schema of ${where} cannot be read: ${e instanceof Error ? e.message : String(e)}`} Nothing was sent.`);
    return undefined;
  }
}

/** The workspace folder of a file (its folder when it is in none): what a prompt file may read. */
export function folderOf(uri: vscode.Uri): string {
  return vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath ?? path.dirname(uri.fsPath);
}

/**
 * Reads files through VS Code, refusing one that is not inside `within` once links are resolved
 * (`loadItemSchema` and the reduce file rules refuse a path spelled outside it; a link inside it that
 * leads out is refused here).
 */
export function confinedReader(within: string): (file: string) => Promise<string> {
  return async (file) => {
    if (!isInside(realPathOf(within), realPathOf(file))) throw new Error(`${file} leads outside the workspace folder ${within} through a symbolic link`);
    try {
      return new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.file(file)));
    } catch (e) {
      if (e instanceof vscode.FileSystemError && e.code === 'FileNotFound') throw Object.assign(new Error(e.message), { code: 'ENOENT' });
      throw e;
    }
  };
}

const RECENT_KEY = 'batchPrompt.recentPrompts';
const MAX_RECENT = 10;
/** A recent prompt: its text (a text prompt, as before #14), or its text and kind. */
type Recent = string | { text: string; output: RecentKind };
type RecentKind = 'findings' | 'edit';
const RECENT_KINDS: readonly unknown[] = ['findings', 'edit'];

function recentText(r: Recent): string {
  return typeof r === 'string' ? r : r.text;
}

type Item = vscode.QuickPickItem & { run: () => Promise<ChosenPrompt | undefined> };

/**
 * Asks for a prompt: type a new one, reuse a recent one, or pick a `*.prompt.md` file of the workspace
 * (`.github/prompts/` first), whose `description` labels it and `model` preselects the model.
 */
export async function pickPrompt(state: vscode.Memento): Promise<ChosenPrompt | undefined> {
  const recent = readRecent(state);
  // Never a run's copy of a prompt file: the runs folder is left out (runsFolder.ts), with the user's excludes.
  const files = await vscode.workspace.findFiles('**/*.prompt.md', excludeGlob(undefined, ['**/node_modules/**', ...runsExcludes(readSettings())]), 200);
  files.sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
  const last = recent.length ? recentText(recent[0]) : undefined;
  const items: Item[] = [
    { label: '$(edit) Type a prompt…', alwaysShow: true, run: () => typePrompt(state, last) },
    // The one place a typed prompt chooses its kind (#14): no question is added to other runs.
    { label: `$(warning) ${TYPE_FINDINGS}`, detail: 'Each file is sent with line numbers; the model answers problems on lines, shown in the Problems panel.', alwaysShow: true, run: () => typePrompt(state, last, { kind: 'findings' }) },
    { label: `$(replace-all) ${TYPE_EDIT}`, detail: 'The model rewrites each file, in chunks; nothing is written until you review the proposed edits.', alwaysShow: true, run: () => typePrompt(state, last, { kind: 'edit' }) },
  ];
  if (recent.length) items.push({ label: 'Recent', kind: vscode.QuickPickItemKind.Separator, run: async () => undefined });
  for (const r of recent) {
    const text = recentText(r);
    const output: OutputSpec | undefined = typeof r === 'string' ? undefined : { kind: r.output };
    items.push({
      label: `$(history) ${firstLine(text)}`,
      description: output?.kind,
      detail: text.length > 80 ? text.slice(0, 160) : undefined,
      run: async () => remember(state, { text, label: firstLine(text), ...(output ? { output } : {}) }),
    });
  }
  if (files.length) items.push({ label: 'Prompt files', kind: vscode.QuickPickItemKind.Separator, run: async () => undefined });
  for (const uri of files) {
    const name = uri.path.split('/').pop()!.replace(/\.prompt\.md$/, '');
    const parsed = parsePromptFile(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)));
    if (!parsed.body) continue;
    const kind = parsed.problem ? ' · cannot be used (see why when picked)' : parsed.output && parsed.output !== 'text' ? ` · ${parsed.output}` : '';
    items.push({
      label: `$(file) ${parsed.description ?? name}`,
      description: `${vscode.workspace.asRelativePath(uri)}${kind}`,
      run: () => promptOfFile(uri, parsed, name),
    });
  }
  const picked = await vscode.window.showQuickPick(items, { title: 'Batch Prompt: choose a prompt', placeHolder: 'Type a new prompt, or pick a recent one or a prompt file', matchOnDescription: true });
  return picked?.run();
}

/** The picker's item for a typed findings prompt (tests pick it by this text). */
export const TYPE_FINDINGS = 'Type a prompt for findings (Problems panel)…';
/** The picker's item for a typed rewrite prompt (#15). */
export const TYPE_EDIT = 'Type a rewrite prompt (edit files)…';

const TYPED: Record<'text' | RecentKind, { title: string; prompt: string }> = {
  text: { title: 'Batch Prompt: prompt', prompt: 'What should the model do with each file? (It sees one chunk of a file at a time.)' },
  findings: { title: 'Batch Prompt: prompt for findings', prompt: 'What should the model look for in each file? Its findings (line, severity, message) go to the Problems panel.' },
  edit: { title: 'Batch Prompt: rewrite prompt', prompt: 'How should the model rewrite each file? (It rewrites one part at a time; you review every change before anything is written.)' },
};

async function typePrompt(state: vscode.Memento, last: string | undefined, output?: OutputSpec): Promise<ChosenPrompt | undefined> {
  const asked = TYPED[output?.kind === 'findings' || output?.kind === 'edit' ? output.kind : 'text'];
  const text = await vscode.window.showInputBox({
    title: asked.title,
    prompt: asked.prompt,
    value: last,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'The prompt is empty.'),
  });
  if (!text?.trim()) return undefined;
  return remember(state, { text: text.trim(), label: firstLine(text), ...(output ? { output } : {}) });
}

/** The recent prompts as stored; entries of another shape (a hand-edited or future state) are left out. */
function readRecent(state: vscode.Memento): Recent[] {
  const stored = state.get<unknown>(RECENT_KEY, []);
  if (!Array.isArray(stored)) return [];
  return stored.filter((r): r is Recent => typeof r === 'string' || (!!r && typeof r === 'object' && typeof (r as { text?: unknown }).text === 'string' && RECENT_KINDS.includes((r as { output?: unknown }).output)));
}

async function remember(state: vscode.Memento, prompt: ChosenPrompt): Promise<ChosenPrompt> {
  const kind = prompt.output?.kind;
  const entry: Recent = kind === 'findings' || kind === 'edit' ? { text: prompt.text, output: kind } : prompt.text;
  const recent = [entry, ...readRecent(state).filter((r) => recentText(r) !== prompt.text)].slice(0, MAX_RECENT);
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
