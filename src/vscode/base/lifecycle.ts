import * as vscode from 'vscode';
import type { CommandId } from './ids';

// Who owns what: registrations go into `context.subscriptions`; a long-lived object owns its children
// (emitters, status items, listeners) through `Disposable._register`. After the shape of
// src/common/lifecycle.ts in microsoft/vscode-pull-request-github.

/** A disposable that calls `fn` once. */
export function toDisposable(fn: () => void): vscode.Disposable {
  let done = false;
  return {
    dispose: () => {
      if (done) return;
      done = true;
      fn();
    },
  };
}

/** Disposes every item, last registered first, and empties the list. */
export function disposeAll(disposables: vscode.Disposable[]): void {
  while (disposables.length) disposables.pop()?.dispose();
}

/**
 * Base of an object that owns disposables: `_register` hands one over, `dispose` disposes them all
 * (last first) once. Something registered after `dispose` is disposed at once. A subclass that must
 * act before its children go (cancel its runs) overrides `dispose` and calls `super.dispose()` last.
 */
export abstract class Disposable implements vscode.Disposable {
  private _isDisposed = false;
  private readonly _disposables: vscode.Disposable[] = [];

  dispose(): void {
    if (this._isDisposed) return;
    this._isDisposed = true;
    disposeAll(this._disposables);
  }

  protected _register<T extends vscode.Disposable>(value: T): T {
    if (this._isDisposed) value.dispose();
    else this._disposables.push(value);
    return value;
  }

  protected get isDisposed(): boolean {
    return this._isDisposed;
  }
}

/**
 * Registers a contributed command (a `CommandId`, so a typo or an id missing from package.json does not
 * compile); push the result into `context.subscriptions`. The handler's parameters are what callers
 * pass (tests, menus, keybindings): nothing checks them at run time, so each handler tests its own.
 */
export function registerCommand(id: CommandId, handler: (...args: never[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, handler);
}
