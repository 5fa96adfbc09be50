import * as vscode from 'vscode';
import type { EndpointConfig } from '../providers/endpoint';
import type { Log } from './log';

const PREFIX = 'batchPrompt.apiKey.';

/** API keys, one per endpoint id, in VS Code's SecretStorage (never settings, logs or outputs). */
export class KeyStore {
  constructor(
    private readonly storage: vscode.SecretStorage,
    private readonly log: Log,
  ) {}

  async get(endpointId: string): Promise<string | undefined> {
    const key = await this.storage.get(PREFIX + endpointId);
    this.log.addSecret(key);
    return key || undefined;
  }

  async set(endpointId: string, key: string): Promise<void> {
    this.log.addSecret(key);
    await this.storage.store(PREFIX + endpointId, key);
  }

  async delete(endpointId: string): Promise<void> {
    await this.storage.delete(PREFIX + endpointId);
  }

  /** Asks for a key for `endpoint` and stores it; returns false when the user dismissed the box. */
  async prompt(endpoint: EndpointConfig): Promise<boolean> {
    const key = await vscode.window.showInputBox({
      title: `API key for ${endpoint.id}`,
      prompt: `Stored in VS Code's secret storage for the endpoint "${endpoint.id}" (${endpoint.provider}, ${endpoint.model}).`,
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim().length < 8 ? 'That looks too short for an API key.' : undefined),
    });
    if (!key) return false;
    await this.set(endpoint.id, key.trim());
    return true;
  }
}
