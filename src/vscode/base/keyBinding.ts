import { identityOf, sameEndpoint, type EndpointIdentity } from '../../providers/endpointTrust';

/**
 * Where a stored API key belongs (issue #12: a key follows its endpoint, not an id). No `vscode`
 * import: the editor's KeyStore (secrets.ts) wraps it around VS Code's SecretStorage; unit tests give
 * it a plain map.
 *
 * A key is stored under a name made of the endpoint's id, provider and base URL origin
 * (`batchPrompt.apiKey.v2:["openai","https://api.openai.com","gpt"]`). An entry of `batchPrompt.models`
 * that reuses an id at another origin (a workspace's settings, say) makes another name: it finds no
 * key, and asks for its own.
 *
 * Migration. Keys stored before this (under `batchPrompt.apiKey.<id>`) name no origin. Such a legacy
 * key is bound, at its first use, to the **user-level** entry with that id (`inspect('models')
 * .globalValue`: settings a repository cannot write): when the endpoint asking is that entry (same id,
 * provider and origin), the key moves to the entry's new name and the legacy name is deleted. Any
 * other endpoint with that id (a workspace-level entry at another origin, or a workspace-level entry
 * while no user-level entry has that id) never receives it and is asked for its own key. A user whose
 * endpoint was configured only in a workspace's settings types the key once more.
 */

/** The part of VS Code's SecretStorage this needs. */
export interface SecretBackend {
  get(name: string): Thenable<string | undefined>;
  store(name: string, value: string): Thenable<void>;
  delete(name: string): Thenable<void>;
}

/** What a key is bound to: an endpoint's id, provider and base URL (the provider's default when absent). */
export interface KeyedEndpoint {
  id: string;
  provider: string;
  baseUrl?: string;
}

/** The name keys had before they were bound to an origin. */
export const LEGACY_PREFIX = 'batchPrompt.apiKey.';
const BOUND_PREFIX = 'batchPrompt.apiKey.v2:';

/** The secret's name for `endpoint`; undefined when it has no usable origin (no key can belong to it). */
export function boundKeyName(endpoint: KeyedEndpoint): string | undefined {
  const identity = identityOf(endpoint);
  if (!identity?.origin) return undefined;
  return BOUND_PREFIX + JSON.stringify([identity.provider, identity.origin, endpoint.id]);
}

/** Provider and origin as a message names them ("openai at https://api.example.com"). */
export function describeIdentity(endpoint: KeyedEndpoint): string {
  const identity: EndpointIdentity | undefined = identityOf(endpoint);
  return identity?.origin ? `${identity.provider} at ${identity.origin}` : `${endpoint.provider} (no usable base URL)`;
}

export class BoundKeys {
  constructor(
    private readonly storage: SecretBackend,
    /** The user-level `batchPrompt.models` entries, read when a legacy key is to be bound. */
    private readonly userEndpoints: () => readonly KeyedEndpoint[],
  ) {}

  /** The key stored for this endpoint (a legacy key moves to it when the endpoint is its user-level owner). */
  async get(endpoint: KeyedEndpoint): Promise<string | undefined> {
    const name = boundKeyName(endpoint);
    if (!name) return undefined;
    const bound = await this.storage.get(name);
    if (bound) return bound;
    if (!this.ownsLegacy(endpoint)) return undefined;
    const legacy = await this.storage.get(LEGACY_PREFIX + endpoint.id);
    if (!legacy) return undefined;
    await this.storage.store(name, legacy);
    await this.storage.delete(LEGACY_PREFIX + endpoint.id);
    return legacy;
  }

  /** Stores the key for this endpoint; false when the endpoint has no usable origin (nothing stored). */
  async set(endpoint: KeyedEndpoint, key: string): Promise<boolean> {
    const name = boundKeyName(endpoint);
    if (!name) return false;
    await this.storage.store(name, key);
    // A key typed for the user-level owner replaces its legacy key, which must not outlive it.
    if (this.ownsLegacy(endpoint)) await this.storage.delete(LEGACY_PREFIX + endpoint.id);
    return true;
  }

  /** Removes the endpoint's key (and the legacy key it owns). */
  async delete(endpoint: KeyedEndpoint): Promise<void> {
    const name = boundKeyName(endpoint);
    if (name) await this.storage.delete(name);
    if (this.ownsLegacy(endpoint)) await this.storage.delete(LEGACY_PREFIX + endpoint.id);
  }

  /** True when `endpoint` is the user-level entry with its id: the only one a legacy key may go to. */
  private ownsLegacy(endpoint: KeyedEndpoint): boolean {
    const owner = this.userEndpoints().find((e) => e.id === endpoint.id);
    return !!owner && sameEndpoint(owner, endpoint);
  }
}
