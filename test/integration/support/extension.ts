// The extension under test, activated once, and typed wrappers around the commands the tests drive.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { RunSummary } from '../../../src/core/store/runStore';
import type { BatchPromptApi } from '../../../src/extension';

export const EXTENSION_ID = 'batch-prompt.batch-prompt';

export async function activateExtension(): Promise<vscode.Extension<unknown>> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is loaded from the working tree`);
  await ext.activate();
  return ext;
}

/** What `activate()` returned (the Failed Chunks model, the log's tail). */
export async function extensionApi(): Promise<BatchPromptApi> {
  const ext = vscode.extensions.getExtension<BatchPromptApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is loaded from the working tree`);
  return ext.activate();
}

export interface RunArgs {
  glob?: string;
  prompt?: string;
  modelId?: string;
  /** The kind of the prompt given as text (#14). */
  output?: 'text' | 'findings' | 'edit';
}

/** `batchPrompt.runOnFiles` with every question answered: resolves with the run summary, or undefined. */
export function runOnFiles(args: RunArgs): Thenable<RunSummary | undefined> {
  return vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.runOnFiles', args);
}

/** `batchPrompt.runOnSelection` as the Explorer calls it: (clicked, all selected), plus the answers. */
export function runOnSelection(clicked: vscode.Uri, selected: vscode.Uri[], args: RunArgs): Thenable<RunSummary | undefined> {
  return vscode.commands.executeCommand<RunSummary | undefined>('batchPrompt.runOnSelection', clicked, selected, args);
}

/**
 * The bound of a wait for an event: reached only by a hang, never a figure of how fast something should
 * be (tests assert the order of events, not their timing). Below the suite's test timeout (60 s), so
 * that a hang fails with the name of what it waited for.
 */
export const HANG_GUARD_MS = 30_000;

/**
 * Rejects when `p` has not settled after `ms`: a bound that turns a hang into a readable failure (the
 * tests never assert how long something took).
 */
export async function settlesWithin<T>(p: Thenable<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([Promise.resolve(p), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when `condition` holds, polling; rejects with `what` after `ms`. */
export async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
