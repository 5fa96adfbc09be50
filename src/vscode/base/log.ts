import * as vscode from 'vscode';
import { redactSecrets } from '../../util/redact';

/**
 * The one "Batch Prompt" log (a `LogOutputChannel`). Every line passes through redaction of the keys
 * the extension has handled in this session, so a key echoed by a server never reaches the log.
 */
export class Log implements vscode.Disposable {
  private readonly channel: vscode.LogOutputChannel;
  private readonly secrets = new Set<string>();
  /** The last lines written, as written (redacted): bounded; read by tests and diagnostics. */
  private readonly tail: string[] = [];

  constructor() {
    this.channel = vscode.window.createOutputChannel('Batch Prompt', { log: true });
  }

  /** Remembers a secret so that it is redacted from every later line. */
  addSecret(secret: string | undefined): void {
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }

  redact(text: string): string {
    return redactSecrets(text, [...this.secrets]);
  }

  info(message: string): void {
    this.channel.info(this.keep(message));
  }
  warn(message: string): void {
    this.channel.warn(this.keep(message));
  }
  error(message: string): void {
    this.channel.error(this.keep(message));
  }
  trace(message: string): void {
    this.channel.trace(this.keep(message));
  }

  /** The last lines written (at most 1,000), already redacted. */
  recent(): readonly string[] {
    return this.tail;
  }

  private keep(message: string): string {
    const line = this.redact(message);
    this.tail.push(line);
    if (this.tail.length > 1000) this.tail.splice(0, this.tail.length - 1000);
    return line;
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
