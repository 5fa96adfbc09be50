import * as vscode from 'vscode';
import { redactSecrets } from '../providers/http';

/**
 * The one "Batch Prompt" log (a `LogOutputChannel`). Every line passes through redaction of the keys
 * the extension has handled in this session, so a key echoed by a server never reaches the log.
 */
export class Log implements vscode.Disposable {
  private readonly channel: vscode.LogOutputChannel;
  private readonly secrets = new Set<string>();

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
    this.channel.info(this.redact(message));
  }
  warn(message: string): void {
    this.channel.warn(this.redact(message));
  }
  error(message: string): void {
    this.channel.error(this.redact(message));
  }
  trace(message: string): void {
    this.channel.trace(this.redact(message));
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
