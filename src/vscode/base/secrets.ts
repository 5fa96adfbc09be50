import * as vscode from 'vscode';
import type { EndpointConfig } from '../../providers/endpoint';
import { BoundKeys, describeIdentity, type KeyedEndpoint } from './keyBinding';
import type { Log } from './log';

/**
 * API keys in VS Code's SecretStorage (never settings, logs or outputs), each bound to its endpoint's
 * id, provider and base URL origin (keyBinding.ts, which also says how keys stored before are migrated):
 * an entry reusing an id at another origin never receives the stored key.
 */
export class KeyStore {
  private readonly keys: BoundKeys;

  constructor(
    storage: vscode.SecretStorage,
    private readonly log: Log,
    /** The user-level `batchPrompt.models` entries (settings.ts readUserModels). */
    userEndpoints: () => readonly KeyedEndpoint[],
  ) {
    this.keys = new BoundKeys(storage, userEndpoints);
  }

  async get(endpoint: KeyedEndpoint): Promise<string | undefined> {
    const key = await this.keys.get(endpoint);
    this.log.addSecret(key);
    return key || undefined;
  }

  async set(endpoint: KeyedEndpoint, key: string): Promise<boolean> {
    this.log.addSecret(key);
    return this.keys.set(endpoint, key);
  }

  async delete(endpoint: KeyedEndpoint): Promise<void> {
    await this.keys.delete(endpoint);
  }

  /**
   * Asks for a key for `endpoint`, naming where it will be sent, and stores it; returns false when the
   * user dismissed the box.
   */
  async prompt(endpoint: EndpointConfig): Promise<boolean> {
    const where = describeIdentity(endpoint);
    const key = await vscode.window.showInputBox({
      title: `API key for ${endpoint.id} (${where})`,
      prompt: `Sent only to ${where}. Stored in VS Code's secret storage for the endpoint "${endpoint.id}" (${endpoint.provider}, ${endpoint.model}) at that address.`,
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim().length < 8 ? 'That looks too short for an API key.' : undefined),
    });
    if (!key) return false;
    return this.set(endpoint, key.trim());
  }
}
