// Records the messages the extension shows (window.show{Error,Warning,Information}Message). The tests
// and the extension share one `vscode` API object in the extension host, so wrapping its functions
// sees the extension's calls. By default the call still goes to VS Code (a toast that nobody clicks,
// as in real use); `answer` may pick a button instead.
import * as vscode from 'vscode';

export type MessageKind = 'error' | 'warning' | 'info';

export interface ShownMessage {
  kind: MessageKind;
  message: string;
  /** Button titles (string items, or the `title` of item objects). */
  items: string[];
  modal: boolean;
}

export interface MessageSpy {
  readonly shown: ShownMessage[];
  restore(): void;
}

type Show = (message: string, ...rest: unknown[]) => Thenable<unknown>;

const NAMES: Record<MessageKind, 'showErrorMessage' | 'showWarningMessage' | 'showInformationMessage'> = {
  error: 'showErrorMessage',
  warning: 'showWarningMessage',
  info: 'showInformationMessage',
};

/**
 * @param answer returns the button to click for a message (its title), or undefined to leave the
 *   message to VS Code
 */
export function spyMessages(answer?: (m: ShownMessage) => string | undefined): MessageSpy {
  const shown: ShownMessage[] = [];
  const win = vscode.window as unknown as Record<string, Show>;
  const originals = new Map<string, Show>();
  for (const [kind, name] of Object.entries(NAMES) as [MessageKind, string][]) {
    const original = win[name];
    originals.set(name, original);
    win[name] = (message: string, ...rest: unknown[]) => {
      const options = rest[0] && typeof rest[0] === 'object' && !('title' in rest[0]) ? (rest.shift() as vscode.MessageOptions) : undefined;
      const items = rest.map((i) => (typeof i === 'string' ? i : (i as vscode.MessageItem).title));
      const m: ShownMessage = { kind, message, items, modal: !!options?.modal };
      shown.push(m);
      const click = answer?.(m);
      if (click !== undefined) return Promise.resolve(rest.find((i) => (typeof i === 'string' ? i : (i as vscode.MessageItem).title) === click));
      return original.call(vscode.window, message, ...(options ? [options] : []), ...rest);
    };
  }
  return {
    shown,
    restore: () => {
      for (const [name, original] of originals) win[name] = original;
    },
  };
}

/** Answers every `window.showInputBox` with `value` (as if typed and confirmed) until restored. */
export function stubInputBox(value: string | undefined): { readonly asked: vscode.InputBoxOptions[]; restore(): void } {
  const win = vscode.window as unknown as { showInputBox: (o?: vscode.InputBoxOptions) => Thenable<string | undefined> };
  const original = win.showInputBox;
  const asked: vscode.InputBoxOptions[] = [];
  win.showInputBox = async (options?: vscode.InputBoxOptions) => {
    asked.push(options ?? {});
    return value;
  };
  return { asked, restore: () => (win.showInputBox = original) };
}

/**
 * Answers each `window.showQuickPick` with what `choose` picks from its items (`n` counts the calls
 * from 0: a test can answer a sequence of pickers) until restored; `asked` holds every list offered.
 */
export function stubQuickPick(choose: (items: vscode.QuickPickItem[], n: number) => unknown): { readonly asked: vscode.QuickPickItem[][]; restore(): void } {
  const win = vscode.window as unknown as { showQuickPick: (items: readonly vscode.QuickPickItem[] | Thenable<readonly vscode.QuickPickItem[]>) => Thenable<unknown> };
  const original = win.showQuickPick;
  const asked: vscode.QuickPickItem[][] = [];
  win.showQuickPick = async (items) => {
    const list = [...(await items)];
    asked.push(list);
    return choose(list, asked.length - 1);
  };
  return { asked, restore: () => (win.showQuickPick = original) };
}
